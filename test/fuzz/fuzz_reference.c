/*
 * fuzz_reference.c: libFuzzer target over references and tenant targets
 * (src/core/reference.c).
 *
 * Sources: src/core/reference.c
 *
 * The whole input is one candidate, tried as a reference and as a target.
 * Properties: no crash on anything rejected; every rejection is a constant
 * sentence of printable ASCII (it never quotes the input); whatever parses
 * has NUL-terminated, bounded parts that obey the grammar, and formats back
 * to exactly the input (the grammar has one spelling per reference), which
 * parses again to the same parts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/reference.h"

/*
 * The parser's messages are constant sentences: printable ASCII, never a
 * pointer into the input.
 */
static void
check_message(const char *err, const char *input, size_t size)
{
	size_t		n;

	if (err == NULL || err[0] == '\0' || (err >= input && err < input + size))
		abort();
	n = strnlen(err, 201);
	if (n > 200)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char) err[i] < 0x20 || (unsigned char) err[i] > 0x7e)
			abort();
}

static size_t
bounded_length(const char *s, size_t max)
{
	size_t		n = strnlen(s, max + 1);

	if (n > max)
		abort();
	return n;
}

static void
check_reference(const PsReference *ref)
{
	size_t		owner = bounded_length(ref->owner, PS_NAME_MAX);
	size_t		name = bounded_length(ref->name, PS_NAME_MAX);
	size_t		path = bounded_length(ref->path, PS_PATH_MAX);
	size_t		field = bounded_length(ref->field, PS_NAME_MAX);

	switch (ref->kind)
	{
		case PS_REF_MANAGED:
			if (!ps_name_is_valid(ref->owner, owner) ||
				!ps_name_is_valid(ref->name, name) || path != 0 || field != 0 ||
				(ref->scope != PS_SCOPE_COMPANY && ref->scope != PS_SCOPE_PROJECT))
				abort();
			break;
		case PS_REF_ENV:
			if (name == 0 || owner != 0 || path != 0 || field != 0)
				abort();
			break;
		case PS_REF_EXTERNAL:
			if (!ps_name_is_valid(ref->owner, owner) || path == 0 ||
				(field != 0 && !ps_name_is_valid(ref->field, field)) ||
				memchr(ref->path, '#', path) != NULL || name != 0)
				abort();
			for (size_t i = 0; i < path; i++)
				if ((unsigned char) ref->path[i] < 0x20 ||
					(unsigned char) ref->path[i] > 0x7e)
					abort();
			break;
		default:
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so ASan sees any read past the end */
	char	   *input = malloc(size ? size : 1);
	PsReference ref;
	PsReference again;
	PsTarget	target;
	PsTarget	target_again;
	char		text[PS_REFERENCE_MAX + 1];
	const char *err;

	memcpy(input, data, size);

	err = ps_reference_parse(input, size, &ref);
	if (err != NULL)
		check_message(err, input, size);
	else
	{
		check_reference(&ref);
		ps_reference_format(&ref, text, sizeof(text));
		if (strlen(text) != size || memcmp(text, data, size) != 0)
			abort();
		if (ps_reference_parse(text, strlen(text), &again) != NULL ||
			memcmp(&ref, &again, sizeof(ref)) != 0)
			abort();
	}

	err = ps_target_parse(input, size, &target);
	if (err != NULL)
		check_message(err, input, size);
	else
	{
		size_t		owner = bounded_length(target.owner, PS_NAME_MAX);
		const char *scope = ps_scope_name(target.scope);

		if (!ps_name_is_valid(target.owner, owner) ||
			size != strlen(scope) + 1 + owner ||
			memcmp(data, scope, strlen(scope)) != 0 ||
			data[strlen(scope)] != '/' ||
			memcmp(data + strlen(scope) + 1, target.owner, owner) != 0)
			abort();
		/* a target names the same tenant inside a managed: reference */
		snprintf(text, sizeof(text), "managed:%s/%s/x", scope, target.owner);
		if (ps_reference_parse(text, strlen(text), &again) != NULL ||
			again.scope != target.scope || strcmp(again.owner, target.owner) != 0)
			abort();
		if (ps_target_parse(text + 8, strlen(text) - 10, &target_again) != NULL ||
			memcmp(&target, &target_again, sizeof(target)) != 0)
			abort();
	}

	(void) ps_name_is_valid(input, size);
	free(input);
	return 0;
}
