/*
 * change_notify.c: the payload of NOTIFY provsecret_changes and the setting
 * that turns it on (change_notify.h).
 */
#include "postgres.h"

#include "commands/async.h"
#include "lib/stringinfo.h"
#include "utils/guc.h"
#include "utils/json.h"

#include "core/change_notify.h"

bool		ps_notify_changes = false;

void
ps_change_notify_define_guc(void)
{
	DefineCustomBoolVariable("provsecret.notify_changes",
							 "Send NOTIFY provsecret_changes with the reference, version and action of each committed change.",
							 "Any role may LISTEN: the payload tells every connected role which references changed.",
							 &ps_notify_changes,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

void
ps_change_notify(const char *reference, int32 value_version, const char *action)
{
	StringInfoData buf;

	if (!ps_notify_changes)
		return;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"reference\":");
	escape_json(&buf, reference);
	appendStringInfo(&buf, ",\"value_version\":%d,\"action\":", value_version);
	escape_json(&buf, action);
	appendStringInfoChar(&buf, '}');
	Async_Notify(PS_CHANGE_CHANNEL, buf.data);
	pfree(buf.data);
}
