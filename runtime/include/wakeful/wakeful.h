/* wakeful/wakeful.h: everything in libwakeful, in one include.  See runtime/README.md. */
#ifndef WAKEFUL_H
#define WAKEFUL_H

#include "clock.h"
#include "coro.h"
#include "errors.h"
#include "executor.h"
#include "future.h"
#include "io.h"
#include "resolve.h"
#include "select.h"
#include "signal.h"
#include "tcp.h"
#include "timer.h"
#include "waker.h"
#include <wakeful/version.h>

#endif
