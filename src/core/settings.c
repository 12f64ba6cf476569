/*
 * settings.c: the core settings (GUC variables declared in provsecret.h).
 */
#include "postgres.h"

#include "utils/guc.h"

#include "core/change_notify.h"
#include "core/provsecret.h"
#include "core/settings.h"

int			ps_mode = PS_MODE_DEPLOYED;
char	   *ps_database = NULL;
char	   *ps_env_allowlist = NULL;
int			ps_keep_versions = 3;

static const struct config_enum_entry ps_mode_options[] = {
	{"local", PS_MODE_LOCAL, false},
	{"deployed", PS_MODE_DEPLOYED, false},
	{NULL, 0, false}
};

void
ps_core_define_gucs(void)
{
	DefineCustomEnumVariable("provsecret.mode",
							 "local allows the built-in development key; deployed requires a root key.",
							 NULL,
							 &ps_mode,
							 PS_MODE_DEPLOYED,
							 ps_mode_options,
							 PGC_POSTMASTER,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("provsecret.database",
							   "Database in which the provsecret workers run.",
							   NULL,
							   &ps_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("provsecret.env_allowlist",
							   "Comma-separated environment variable names that env: references may resolve.",
							   NULL,
							   &ps_env_allowlist,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("provsecret.keep_versions",
							"Number of earlier versions kept for each secret.",
							NULL,
							&ps_keep_versions,
							3,
							0,
							1000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	ps_change_notify_define_guc();
}
