/*
 * fuzz_base64url.c: libFuzzer target over the strict base64url decoder
 * (src/core/base64url.c).
 *
 * Sources: src/core/base64url.c
 *
 * The input is tried two ways:
 *   as text to decode: whatever decodes fits PS_BASE64URL_DECODED_MAX, has
 *   the length the RFC gives (3 bytes per 4 characters, 1 or 2 for a
 *   trailing 2 or 3), is the same through ps_base64url_decode_alloc (and
 *   NUL-terminated there), fails with one byte less room, and encodes back
 *   to exactly the input (one accepted spelling per byte string);
 *   as bytes to encode: the encoding decodes back to the bytes, and changes
 *   of one character that leave the alphabet or set trailing bits are
 *   refused.
 * The encoder is the RFC's (fuzz_encode.h): the extension only decodes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64url.h"
#include "fuzz_encode.h"

static size_t
rfc_decoded_length(size_t len)
{
	return (len / 4) * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
}

static void
as_text(const char *text, size_t len)
{
	size_t		cap = PS_BASE64URL_DECODED_MAX(len);
	unsigned char *out = malloc(cap);
	unsigned char *alloc;
	size_t		outlen = (size_t) -1;
	size_t		alloclen = (size_t) -1;
	bool		ok = ps_base64url_decode(text, len, out, cap, &outlen);

	alloc = ps_base64url_decode_alloc(text, len, &alloclen);
	if (ok != (alloc != NULL))
		abort();
	if (ok)
	{
		char	   *back = malloc(len + 1);
		unsigned char *tight = malloc(outlen ? outlen : 1);
		size_t		tightlen;

		if (outlen > cap || outlen != rfc_decoded_length(len) ||
			alloclen != outlen || memcmp(alloc, out, outlen) != 0 ||
			alloc[outlen] != '\0')
			abort();
		/* exactly enough room is enough; one byte less is refused */
		if (!ps_base64url_decode(text, len, tight, outlen, &tightlen) ||
			tightlen != outlen)
			abort();
		if (outlen > 0 && ps_base64url_decode(text, len, tight, outlen - 1, &tightlen))
			abort();
		if (fuzz_b64url_encode(out, outlen, back) != len || memcmp(back, text, len) != 0)
			abort();
		free(back);
		free(tight);
	}
	else if (len % 4 != 1)
	{
		/* a refusal has a reason: a character outside the alphabet, or trailing bits */
		bool		foreign = false;

		for (size_t i = 0; i < len && !foreign; i++)
			foreign = memchr(fuzz_b64url_alphabet, text[i], sizeof(fuzz_b64url_alphabet) - 1) == NULL;
		if (!foreign && len % 4 == 0)
			abort();
	}
	free(alloc);
	free(out);
}

static void
as_bytes(const uint8_t *data, size_t size)
{
	char	   *text = malloc(fuzz_b64url_room(size));
	size_t		len = fuzz_b64url_encode(data, size, text);
	unsigned char *back;
	size_t		backlen;

	back = ps_base64url_decode_alloc(text, len, &backlen);
	if (back == NULL || backlen != size || memcmp(back, data, size) != 0)
		abort();
	free(back);
	if (len % 4 >= 2)
	{
		/* the last character carries unused low bits: setting one is refused */
		const char *last = strchr(fuzz_b64url_alphabet, text[len - 1]);
		int			v = (int) (last - fuzz_b64url_alphabet);
		int			unused = len % 4 == 2 ? 4 : 2;

		if ((v & ((1 << unused) - 1)) != 0)
			abort();
		text[len - 1] = fuzz_b64url_alphabet[v | 1];
		back = ps_base64url_decode_alloc(text, len, &backlen);
		if (back != NULL)
			abort();
	}
	if (len > 0)
	{
		text[0] = '=';
		if (ps_base64url_decode_alloc(text, len, &backlen) != NULL)
			abort();
	}
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size ? size : 1);

	memcpy(text, data, size);
	as_text(text, size);
	free(text);
	as_bytes(data, size);
	return 0;
}
