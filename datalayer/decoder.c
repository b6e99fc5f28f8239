/* datalayer/decoder.c: the incremental decoder and the one-shot dl_deserialize. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

enum {
    ST_HEADER = 0, /* gathering the 10-byte header */
    ST_BODY,       /* gathering field3 */
    ST_COMPLETE,   /* a frame is ready to be taken */
    ST_FAILED,     /* d->error says why; nothing more is consumed */
};

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

void dl_decoder_init(dl_decoder *d, uint32_t max_field3)
{
    memset(d, 0, sizeof *d);
    d->max_field3 = max_field3;
    d->state = ST_HEADER;
}

/* Marks d failed and drops any partial field3 at once, so a bad frame holds no memory
 * even if the caller forgets dl_decoder_free. */
static int fail(dl_decoder *d, int err)
{
    dl_data_free(&d->msg);
    d->state = ST_FAILED;
    d->error = err;
    return err;
}

/* The header is complete: check the length before allocating anything. */
static int start_body(dl_decoder *d)
{
    uint32_t n = get_u32le(d->header + 6);

    if (n > d->max_field3)
        return fail(d, DL_ERR_TOO_LARGE);
    d->msg.field1 = get_u32le(d->header);
    d->msg.field2 = get_u16le(d->header + 4);
    d->msg.field3_len = n;
    d->field3_have = 0;
    if (n == 0) {
        d->state = ST_COMPLETE; /* an empty field3 is valid UTF-8 and needs no memory */
        return DL_OK;
    }
    d->msg.field3 = malloc(n);
    if (d->msg.field3 == NULL)
        return fail(d, DL_ERR_NO_MEMORY);
    d->state = ST_BODY;
    return DL_OK;
}

int dl_decoder_feed(dl_decoder *d, const uint8_t *buf, size_t len, size_t *consumed, size_t *need)
{
    size_t used = 0, take, missing = 0;
    int status = DL_DECODE_COMPLETE;

    if (d->state == ST_FAILED) {
        status = d->error;
        goto out;
    }

    if (d->state == ST_HEADER) {
        take = min_size(len, DL_HEADER_SIZE - d->header_have);
        if (take > 0)
            memcpy(d->header + d->header_have, buf, take);
        d->header_have += (uint32_t)take;
        used += take;
        if (d->header_have < DL_HEADER_SIZE) {
            /* The length is still unknown and may be 0, so only the rest of the
             * header is sure to be needed. */
            missing = DL_HEADER_SIZE - d->header_have;
            status = DL_DECODE_NEED_MORE;
            goto out;
        }
        int err = start_body(d);
        if (err != DL_OK) {
            status = err;
            goto out;
        }
    }

    if (d->state == ST_BODY) {
        take = min_size(len - used, d->msg.field3_len - d->field3_have);
        if (take > 0)
            memcpy(d->msg.field3 + d->field3_have, buf + used, take);
        d->field3_have += (uint32_t)take;
        used += take;
        if (d->field3_have < d->msg.field3_len) {
            missing = d->msg.field3_len - d->field3_have;
            status = DL_DECODE_NEED_MORE;
            goto out;
        }
        /* Validated once, whole: a multi-byte character may straddle two feeds. */
        if (!dl_utf8_valid(d->msg.field3, d->msg.field3_len)) {
            status = fail(d, DL_ERR_INVALID_UTF8);
            goto out;
        }
        d->state = ST_COMPLETE;
    }

out:
    if (consumed != NULL)
        *consumed = used;
    if (need != NULL)
        *need = missing;
    return status;
}

int dl_decoder_finish(const dl_decoder *d)
{
    switch (d->state) {
    case ST_FAILED:
        return d->error;
    case ST_COMPLETE:
        return DL_OK;
    case ST_HEADER:
        if (d->header_have == 0)
            return DL_OK; /* clean end of input between frames */
        return DL_ERR_TRUNCATED;
    default:
        return DL_ERR_TRUNCATED;
    }
}

int dl_decoder_take(dl_decoder *d, dl_data *out)
{
    if (d->state != ST_COMPLETE) {
        memset(out, 0, sizeof *out); /* so that dl_data_free(out) is always safe */
        return DL_ERR_TRUNCATED;
    }
    *out = d->msg;
    dl_decoder_init(d, d->max_field3);
    return DL_OK;
}

void dl_decoder_free(dl_decoder *d)
{
    dl_data_free(&d->msg);
    d->state = ST_FAILED;
    d->error = DL_ERR_TRUNCATED;
}

int dl_deserialize(const uint8_t *buf, size_t len, size_t *consumed, dl_data *out, uint32_t max_field3)
{
    dl_decoder d;
    size_t used = 0;
    int status;

    memset(out, 0, sizeof *out);
    dl_decoder_init(&d, max_field3);
    status = dl_decoder_feed(&d, buf, len, &used, NULL);
    if (status == DL_DECODE_COMPLETE) {
        status = dl_decoder_take(&d, out);
        if (consumed != NULL)
            *consumed = used;
    } else if (status == DL_DECODE_NEED_MORE) {
        status = DL_ERR_TRUNCATED;
    }
    dl_decoder_free(&d);
    return status;
}
