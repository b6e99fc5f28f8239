/* client/errors.h: the client's own result codes, all in one place.
 *
 * A request's result (cl_send_data.result, the load's per-request results) is 0 for
 * success, a negative errno value from the runtime (-ECONNREFUSED, -ETIMEDOUT, ...), or
 * one of these.  They sit far below every errno value (errno values stay under 4096 on
 * Linux), so the two cannot be mistaken for each other; cl_result_text (report.h) names
 * both kinds, wk_strerror only errno values. */
#ifndef WAKEFUL_CLIENT_ERRORS_H
#define WAKEFUL_CLIENT_ERRORS_H

#define CL_E_WRONG_REPLY (-10001) /* the reply was not exactly CL_REPLY (or over the cap) */
#define CL_E_NO_REPLY (-10002)    /* the server closed the connection without a byte */
#define CL_E_NOT_RUN (-10003)     /* never ran (its thread could not start an executor, say) */

#endif
