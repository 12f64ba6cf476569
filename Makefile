# provsecret: PGXS build.  `make && make install`; tests: ./scripts/test
EXTENSION = provsecret
MODULE_big = provsecret
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))
DATA = $(sort $(wildcard sql/provsecret--*.sql))
PGFILEDESC = "provsecret - encrypted secrets for the control plane"

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare \
	-I$(shell $(PG_CONFIG) --includedir)
# the version sys/health reports, from provsecret.control's default_version:
# its one source (META.json and debian/changelog are checked against it)
PROVSECRET_VERSION := $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" \
	$(dir $(firstword $(MAKEFILE_LIST)))provsecret.control)
ifeq ($(PROVSECRET_VERSION),)
$(error no default_version in provsecret.control)
endif
PG_CPPFLAGS += -DPROVSECRET_VERSION='"$(PROVSECRET_VERSION)"'
SHLIB_LINK = -L$(shell $(PG_CONFIG) --libdir) -lpq -lsodium -lcurl -lmicrohttpd -lcrypto -ljansson

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the OpenAPI document is embedded with .incbin (src/rest/rest_openapi.c)
src/rest/rest_openapi.o src/rest/rest_openapi.bc: docs/openapi.json
src/rest/vault_routes.o src/rest/vault_routes.bc: provsecret.control
# PGXS tracks no header dependencies: rebuild everything when a header changes
$(OBJS): $(wildcard src/*.h src/*/*.h)
# the settings pages' files are embedded with .incbin (src/ui/ui_assets.c)
src/ui/ui_assets.o src/ui/ui_assets.bc: ui/index.html ui/app.css ui/app.js
