/*
 * rest_openapi.c: embed docs/openapi.json (see rest_openapi.h).
 *
 * .incbin keeps the JSON byte for byte, with no generator step; the Makefile
 * makes this object depend on the document.
 */
#include "rest/rest_openapi.h"

__asm__(".section .rodata\n"
		".global ps_openapi_document\n"
		".type ps_openapi_document, @object\n"
		"ps_openapi_document:\n"
		".incbin \"docs/openapi.json\"\n"
		".global ps_openapi_document_end\n"
		"ps_openapi_document_end:\n"
		".byte 0\n"
		".previous\n");
