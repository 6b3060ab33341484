/* script_lua.h - the pure Lua half of scripting (script_lua.c): Redis 7.0's
 * conversions between RESP replies and Lua values, its Lua error tables, and
 * the sandbox scripts run in.  Needs Lua 5.1 and resp.c only. */
#ifndef STRATA_SCRIPT_LUA_H
#define STRATA_SCRIPT_LUA_H

#include <lua.h>
#include <stddef.h>

#include "resp.h"
#include "util.h"

/* Pushes Redis's Lua error table {err = "CODE message"}.  s is an error
 * text as a reply carries it, with or without its leading '-': with the
 * dash, the first word is the code (replies of called commands,
 * redis.error_reply()); a text without dash, or without a space after the
 * code, gets the generic "ERR".  CR/LF around the message are dropped. */
void luaPushErrorTable(lua_State *L, const char *s, size_t len);

/* Replaces the value at the top with a table holding it as t[name]. */
void luaWrapField(lua_State *L, const char *name);

/* Pushes the Lua value of a reply, by Redis's rules: integer -> number,
 * bulk -> string, status -> {ok=}, error -> {err=}, RESP2 null -> false,
 * RESP3 null -> nil, array -> table, map -> {map={k=v}}, set ->
 * {set={m=true}}, double -> {double=}, boolean -> boolean, big number ->
 * {big_number=}, verbatim -> {verbatim_string={format=, string=}}. */
void respToLua(lua_State *L, const respValue *v);

/* Appends the RESP form of the value at the top to b and pops it.  resp is
 * the caller's protocol; lresp the script's (redis.setresp()), which decides
 * how booleans come back, as in Redis.  Numbers are truncated to integers,
 * arrays end at the first nil, tables with an err/ok/double/big_number/map/
 * set/verbatim_string field become that type. */
void luaToResp(lua_State *L, strbuf *b, int resp, int lresp);

/* Opens the base, table, string and math libraries as Redis 7.0 offers them
 * (no file access, no environments) with the sandbox's pcall, rawset,
 * rawget, pairs, loadstring and load.  Call first on a new state. */
void luaOpenSandboxedLibs(lua_State *L);

/* Makes the library tables and the globals read-only (see script_lua.c) and
 * installs the view of the globals as the state's global table.  Call last,
 * once every global exists. */
void luaProtectGlobals(lua_State *L);

/* Sets the global name to the value at the top (popped), past the read-only
 * protection: KEYS and ARGV before each script. */
void luaSetRealGlobal(lua_State *L, const char *name);

#endif
