/*
 * fuzz_encode.h: base64url encoding (RFC 4648 §5, no padding) for the fuzz
 * targets, which build inputs the extension only ever decodes.
 */
#ifndef PROVSECRET_FUZZ_ENCODE_H
#define PROVSECRET_FUZZ_ENCODE_H

#include <stddef.h>
#include <stdint.h>

static const char fuzz_b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Room needed for len bytes: fuzz_b64url_room(len) characters. */
#define fuzz_b64url_room(len) ((len) / 3 * 4 + 4)

/* Encode len bytes into dst; returns the number of characters written. */
static inline size_t
fuzz_b64url_encode(const uint8_t *src, size_t len, char *dst)
{
	const char *a = fuzz_b64url_alphabet;
	size_t		n = 0;
	size_t		i;

	for (i = 0; i + 3 <= len; i += 3)
	{
		uint32_t	v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8) | src[i + 2];

		dst[n++] = a[(v >> 18) & 63];
		dst[n++] = a[(v >> 12) & 63];
		dst[n++] = a[(v >> 6) & 63];
		dst[n++] = a[v & 63];
	}
	if (len - i == 1)
	{
		dst[n++] = a[src[i] >> 2];
		dst[n++] = a[(src[i] & 3) << 4];
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) src[i] << 8) | src[i + 1];

		dst[n++] = a[(v >> 10) & 63];
		dst[n++] = a[(v >> 4) & 63];
		dst[n++] = a[(v << 2) & 63];
	}
	return n;
}

#endif
