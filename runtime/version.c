/* runtime/version.c: the library's version at run time (wakeful/version.h). */
#include <wakeful/version.h>

const char *wk_version(void)
{
    return WK_VERSION_STRING;
}
