/* datalayer/data.c: error names, the encoder and the growing buffer. */
#include "data.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *dl_strerror(int err)
{
    switch (err) {
    case DL_OK:
        return "success";
    case DL_ERR_TRUNCATED:
        return "truncated frame: input ended inside a frame";
    case DL_ERR_TOO_LARGE:
        return "frame too large: length field over the maximum";
    case DL_ERR_INVALID_UTF8:
        return "invalid UTF-8 in field3";
    case DL_ERR_BUFFER_TOO_SMALL:
        return "output buffer too small for the frame";
    case DL_ERR_NO_MEMORY:
        return "out of memory";
    default:
        return "unknown data layer error";
    }
}

void dl_data_free(dl_data *msg)
{
    if (msg == NULL)
        return;
    free(msg->field3);
    memset(msg, 0, sizeof *msg);
}

size_t dl_encoded_size(const dl_data *msg)
{
#if SIZE_MAX - DL_HEADER_SIZE < UINT32_MAX
    /* Only a 32-bit size_t can overflow here; saturate so that no buffer is ever
     * judged big enough for such a frame. */
    if (msg->field3_len > SIZE_MAX - DL_HEADER_SIZE)
        return SIZE_MAX;
#endif
    return DL_HEADER_SIZE + (size_t)msg->field3_len;
}

/* Integers go out byte by byte, least significant first, so the wire format does not
 * depend on the host's byte order. */
static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v);
    p[1] = (uint8_t)(v >> 8);
}

/* Writes the frame; buf must hold dl_encoded_size(msg) bytes. */
static void encode(const dl_data *msg, uint8_t *buf)
{
    put_u32le(buf, msg->field1);
    put_u16le(buf + 4, msg->field2);
    put_u32le(buf + 6, msg->field3_len);
    if (msg->field3_len > 0)
        memcpy(buf + DL_HEADER_SIZE, msg->field3, msg->field3_len);
}

long dl_serialize(const dl_data *msg, uint8_t *buf, size_t cap)
{
    size_t size = dl_encoded_size(msg);

    /* The second test matters only where long is 32 bits and field3 is near 4 GiB:
     * such a frame could not report its size, so no buffer is big enough for it. */
    if (cap < size || size > (size_t)LONG_MAX)
        return DL_ERR_BUFFER_TOO_SMALL;
    encode(msg, buf);
    return (long)size;
}

void dl_buf_init(dl_buf *b)
{
    b->bytes = NULL;
    b->len = 0;
    b->cap = 0;
}

void dl_buf_free(dl_buf *b)
{
    free(b->bytes);
    dl_buf_init(b);
}

/* Makes room for extra more bytes, doubling so that many appends cost linear time.
 * On failure b is unchanged. */
static int buf_reserve(dl_buf *b, size_t extra)
{
    size_t want, cap;
    uint8_t *bytes;

    if (extra > SIZE_MAX - b->len)
        return DL_ERR_NO_MEMORY;
    want = b->len + extra;
    if (want <= b->cap)
        return DL_OK;
    cap = b->cap < 64 ? 64 : b->cap;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    bytes = realloc(b->bytes, cap);
    if (bytes == NULL)
        return DL_ERR_NO_MEMORY;
    b->bytes = bytes;
    b->cap = cap;
    return DL_OK;
}

int dl_serialize_append(const dl_data *msg, dl_buf *b)
{
    size_t size = dl_encoded_size(msg);
    int err = buf_reserve(b, size);

    if (err != DL_OK)
        return err;
    encode(msg, b->bytes + b->len);
    b->len += size;
    return DL_OK;
}
