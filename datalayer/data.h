/* datalayer/data.h: the Data message and its wire format.
 *
 * Wire format of one frame (all integers little-endian, whatever the host):
 *   4 bytes  field1  u32
 *   2 bytes  field2  u16
 *   4 bytes  n       u32, the length of field3 in bytes
 *   n bytes  field3  UTF-8, validated as strictly as Rust's String::from_utf8
 * See docs/protocol.md.  Nothing here blocks, allocates behind the caller's back
 * beyond what is documented, or keeps global state; every function is reentrant. */
#ifndef WAKEFUL_DATALAYER_DATA_H
#define WAKEFUL_DATALAYER_DATA_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define DL_HEADER_SIZE 10u          /* field1 + field2 + length */
#define DL_DEFAULT_MAX_FIELD3 65536u /* the server's default --max-frame */

/* Errors are negative so that they can share a return value with byte counts, and they are
 * negative errno values, the scheme of the whole program (the runtime's wk_strerror names
 * them too, in errno's words): each one the errno that says the same thing, the truncated
 * frame the -EPIPE the runtime uses for a peer that closed before sending what it owed.
 * (They were -1..-5 before, which are -EPERM..-EIO: printed with strerror they lied.) */
typedef enum dl_error {
    DL_OK = 0,
    DL_ERR_TRUNCATED = -EPIPE,          /* input ended inside a frame */
    DL_ERR_TOO_LARGE = -EMSGSIZE,       /* length field over the decoder's maximum */
    DL_ERR_INVALID_UTF8 = -EILSEQ,      /* field3 is not well-formed UTF-8 */
    DL_ERR_BUFFER_TOO_SMALL = -ENOBUFS, /* the caller's output buffer cannot hold the frame */
    DL_ERR_NO_MEMORY = -ENOMEM,         /* an allocation failed */
} dl_error;

/* Names a data layer error in the data layer's words ("truncated frame", ...), which are
 * more precise than errno's; "unknown data layer error" for any other value.  Never
 * NULL. */
const char *dl_strerror(int err);

/* The message.  field3 is bytes plus an explicit length: it is never read up to a NUL,
 * and it may contain NUL bytes.  Ownership of field3 depends on who filled it in:
 * messages produced by the decoder own a malloc'd field3 (free with dl_data_free);
 * messages the caller builds may point anywhere. */
typedef struct dl_data {
    uint32_t field1;
    uint16_t field2;
    uint32_t field3_len;
    uint8_t *field3;
} dl_data;

/* Frees field3 of a decoded message and zeroes the struct; NULL-safe. */
void dl_data_free(dl_data *msg);

/* Bytes the frame of msg takes on the wire: DL_HEADER_SIZE + field3_len. */
size_t dl_encoded_size(const dl_data *msg);

/* Writes the frame of msg into buf[0..cap).  Returns the number of bytes written,
 * or DL_ERR_BUFFER_TOO_SMALL (nothing written) when cap < dl_encoded_size(msg).
 * Does not validate field3 (the encoder trusts its caller; the decoder does not). */
long dl_serialize(const dl_data *msg, uint8_t *buf, size_t cap);

/* A growing byte buffer: zero-initialise it (or dl_buf_init), free with dl_buf_free. */
typedef struct dl_buf {
    uint8_t *bytes;
    size_t len;
    size_t cap;
} dl_buf;

void dl_buf_init(dl_buf *b);
void dl_buf_free(dl_buf *b);

/* Appends the frame of msg to b, growing it as needed.  Returns DL_OK or
 * DL_ERR_NO_MEMORY (b unchanged). */
int dl_serialize_append(const dl_data *msg, dl_buf *b);

/* Strict UTF-8 validation, exactly as strict as Rust's String::from_utf8: rejects
 * overlong forms, surrogates U+D800..U+DFFF, code points above U+10FFFF, the bytes
 * C0, C1, F5..FF, stray continuation bytes and truncated sequences.
 * Returns 1 when s[0..len) is valid, 0 otherwise. */
int dl_utf8_valid(const uint8_t *s, size_t len);

/* ---- incremental decoder ------------------------------------------------------------
 * Feed it bytes as they arrive, in pieces of any size.  It copies what it needs, so the
 * caller may reuse its buffer after each call.  The 10-byte header is gathered first; a
 * length over max_field3 is an error right then, before anything is allocated (a peer
 * announcing 4 GiB costs nothing).  field3 is allocated once, at its exact size, when the
 * header is complete (nothing for an empty field3). */
typedef enum dl_decode_status {
    DL_DECODE_NEED_MORE = 1, /* *need says at least how many more bytes the frame needs */
    DL_DECODE_COMPLETE = 2,  /* a frame is done: take it with dl_decoder_take */
} dl_decode_status;

typedef struct dl_decoder {
    uint32_t max_field3;          /* largest accepted field3 length */
    uint8_t header[DL_HEADER_SIZE];
    uint32_t header_have;         /* header bytes gathered so far */
    uint32_t field3_have;         /* field3 bytes gathered so far */
    int state;                    /* internal: header, body, complete or failed */
    int error;                    /* the dl_error once failed */
    dl_data msg;                  /* the message being built; field3 owned here until taken */
} dl_decoder;

/* Prepares d for a new frame.  Never allocates. */
void dl_decoder_init(dl_decoder *d, uint32_t max_field3);

/* Consumes bytes from buf[0..len).  Returns:
 *   DL_DECODE_NEED_MORE  every byte consumed (*consumed == len); *need >= 1 is the least
 *                        number of further bytes that can finish the frame;
 *   DL_DECODE_COMPLETE   a frame ended after *consumed bytes (bytes past it are untouched,
 *                        they belong to the next frame);
 *   a negative dl_error  the frame is bad (DL_ERR_TOO_LARGE, DL_ERR_INVALID_UTF8,
 *                        DL_ERR_NO_MEMORY); the decoder stays failed until re-initialised.
 * consumed and need may be NULL.  Feeding a completed decoder consumes nothing and answers
 * DL_DECODE_COMPLETE again. */
int dl_decoder_feed(dl_decoder *d, const uint8_t *buf, size_t len, size_t *consumed, size_t *need);

/* Call at end of input: DL_OK when a frame is complete (or none was started: zero bytes
 * fed), DL_ERR_TRUNCATED when the input stopped inside a frame, the stored error if failed. */
int dl_decoder_finish(const dl_decoder *d);

/* Moves the completed message into *out (the caller then owns out->field3) and readies d
 * for the next frame.  Returns DL_OK, or DL_ERR_TRUNCATED when no frame is complete. */
int dl_decoder_take(dl_decoder *d, dl_data *out);

/* Releases whatever a partial frame holds; d must be re-initialised before reuse. */
void dl_decoder_free(dl_decoder *d);

/* One-shot decode of the first frame in buf[0..len), on top of the decoder.
 * On DL_OK, *out owns its field3 and *consumed is the frame's size.  An incomplete frame
 * is DL_ERR_TRUNCATED.  max_field3 bounds the length field as in the decoder. */
int dl_deserialize(const uint8_t *buf, size_t len, size_t *consumed, dl_data *out, uint32_t max_field3);

#endif
