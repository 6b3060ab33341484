/* script_lua.c - the pure Lua half of scripting: Redis 7.0's conversions
 * between RESP replies and Lua values, its error tables, and the sandbox
 * scripts run in (read-only globals and library tables, loaders that refuse
 * bytecode, Redis's pcall).  It knows nothing of clients, threads or
 * storage, so tests/unit/test_script_lua.c drives it directly; script.c
 * builds interpreters and runs scripts with it.
 *
 * Read-only tables (script.c, invariant 4).  Debian's Lua 5.1 has no
 * read-only tables (Redis patched its Lua), so a protected table is replaced
 * by a "view": an empty table whose metatable reads from the original,
 * raises "Attempt to modify a readonly table" on writes, and hides itself
 * (__metatable).  The registry maps each view to its table so that rawset()
 * refuses views and rawget()/pairs() see through them.  The real globals
 * table (kept in the registry) additionally raises on unknown names, and
 * scripts get a view of it as their globals and as _G.
 */
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "script_lua.h"

#define REG_VIEWS "strata.views"     /* registry: read-only view -> its table */
#define REG_GLOBALS "strata.globals" /* registry: the real globals table */
#define REG_SEALED "strata.sealed"   /* registry: what getmetatable() shows of a view */

/* ========================== Errors ======================================== */

/* Pushes Redis's Lua error table {err = "CODE message"}.  s is an error text
 * as a reply carries it, with or without its leading '-': with the dash, the
 * first word is the code (Redis's reply errors, redis.error_reply()); a text
 * without dash, or without a space after the code, gets the generic "ERR".
 * The message loses surrounding CR/LF. */
void luaPushErrorTable(lua_State *L, const char *s, size_t len)
{
    const char *code = "ERR", *msg = s;
    size_t codelen = 3, msglen = len;
    if (len > 0 && s[0] == '-') {
        const char *sp = memchr(s, ' ', len);
        msg = s + 1;
        msglen = len - 1;
        if (sp) {
            code = s + 1;
            codelen = (size_t)(sp - code);
            msg = sp + 1;
            msglen = len - (size_t)(msg - s);
        }
    }
    while (msglen && (*msg == '\r' || *msg == '\n')) msg++, msglen--;
    while (msglen && (msg[msglen - 1] == '\r' || msg[msglen - 1] == '\n')) msglen--;
    lua_newtable(L);
    lua_pushlstring(L, code, codelen);
    lua_pushliteral(L, " ");
    lua_pushlstring(L, msg, msglen);
    lua_concat(L, 3);
    lua_setfield(L, -2, "err");
}

/* ========================== Sandbox ======================================= */

static int luaReadonlyNewindex(lua_State *L)
{
    luaL_where(L, 1);
    lua_pushliteral(L, "Attempt to modify a readonly table");
    lua_concat(L, 2);
    return lua_error(L);
}

static int luaMissingGlobal(lua_State *L)
{
    const char *name = lua_isstring(L, 2) ? lua_tostring(L, 2) : "?";
    luaL_where(L, 1);
    lua_pushfstring(L, "Script attempted to access nonexistent global variable '%s'", name);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Pushes the table a read-only view stands for, or nil. */
static void luaViewTarget(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_VIEWS);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
}

/* Replaces the table at the top with a read-only view of it: an empty table
 * whose metatable reads from the original and refuses writes.  The metatable
 * is hidden behind __metatable (getmetatable() shows the empty sealed table,
 * setmetatable() fails), so the original never leaks to a script. */
static void luaMakeReadonly(lua_State *L)
{
    int orig = lua_gettop(L);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushvalue(L, orig);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, luaReadonlyNewindex);
    lua_setfield(L, -2, "__newindex");
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SEALED);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_VIEWS);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, orig);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_replace(L, orig);
}

/* rawset() that refuses read-only views, as Redis's read-only tables do. */
static int luaRawsetGuarded(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    luaViewTarget(L, 1);
    if (!lua_isnil(L, -1)) {
        lua_pushliteral(L, "Attempt to modify a readonly table");
        return lua_error(L);
    }
    lua_pop(L, 1);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* setmetatable() that refuses read-only views with Redis's message (Lua's
 * own would say "cannot change a protected metatable"). */
static int luaSetmetatableGuarded(lua_State *L)
{
    luaViewTarget(L, 1);
    if (!lua_isnil(L, -1)) {
        lua_pushliteral(L, "Attempt to modify a readonly table");
        return lua_error(L);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Creates the sealed table: empty, refusing writes, its own metatable
 * hidden.  It counts as a view of itself, so rawset() refuses it too. */
static void luaCreateSealed(lua_State *L)
{
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, luaReadonlyNewindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_VIEWS);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_SEALED);
}

/* rawget() that reads through a read-only view (views are empty). */
static int luaRawgetViews(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaViewTarget(L, 1);
    if (!lua_isnil(L, -1)) lua_replace(L, 1);
    else lua_pop(L, 1);
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
}

/* pairs() that walks the table behind a read-only view (views are empty). */
static int luaPairsViews(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaViewTarget(L, 1);
    if (!lua_isnil(L, -1)) lua_replace(L, 1);
    else lua_pop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1)); /* next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* ---- loading code at run time ---- */

/* Loads buf as Lua source, never as a precompiled chunk: malformed bytecode
 * can break the interpreter (Redis patched its Lua for this).  A binary chunk
 * fails as text does in Redis ("unexpected symbol near 'char(27)'"): a
 * leading space makes the parser read it as source.  Returns lua_load()'s
 * results: the function, or nil and the message. */
static int luaLoadSource(lua_State *L, const char *buf, size_t len, const char *name)
{
    int rc;
    if (len > 0 && buf[0] == LUA_SIGNATURE[0]) {
        char *text = malloc(len + 1);
        text[0] = ' ';
        memcpy(text + 1, buf, len);
        rc = luaL_loadbuffer(L, text, len + 1, name);
        free(text);
    } else {
        rc = luaL_loadbuffer(L, buf, len, name);
    }
    if (rc == 0) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* loadstring(s [, chunkname]) */
static int luaLoadstringGuarded(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, s);
    return luaLoadSource(L, s, len, name);
}

/* load(reader [, chunkname]): the pieces are gathered first so that the
 * whole chunk goes through luaLoadSource(). */
static int luaLoadGuarded(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = luaL_optstring(L, 2, "=(load)");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int pieces = 0;; pieces++) {
        lua_pushvalue(L, 1);
        if (lua_pcall(L, 0, 1, 0) != 0) {
            lua_pushnil(L);
            lua_insert(L, -2);
            return 2;
        }
        if (lua_isnil(L, -1) || (lua_isstring(L, -1) && lua_objlen(L, -1) == 0)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) {
            lua_pushnil(L);
            lua_pushliteral(L, "reader function must return a string");
            return 2;
        }
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *chunk = lua_tolstring(L, -1, &len);
    return luaLoadSource(L, chunk, len, name);
}

/* pcall() as Redis 7.0 has it: an error table caught from redis.call() is
 * handed to the script as its `err` text. */
static int luaPcallRedis(lua_State *L)
{
    if (lua_gettop(L) == 0) lua_pushnil(L);
    if (lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0) == 0) {
        lua_pushboolean(L, 1);
        lua_insert(L, 1);
        return lua_gettop(L);
    }
    if (lua_istable(L, -1)) {
        lua_pushliteral(L, "err");
        lua_rawget(L, -2);
        if (!lua_isnil(L, -1)) lua_remove(L, -2);
        else lua_pop(L, 1);
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

static void luaOpenLib(lua_State *L, const char *name, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

/* Base, table, string and math libraries, minus what reaches the file system
 * or changes environments (Redis 7.0's set of globals), with the sandbox's
 * pcall, rawset, rawget, pairs, loadstring and load. */
void luaOpenSandboxedLibs(lua_State *L)
{
    static const char *const removed[] = {"print",   "dofile", "loadfile", "setfenv", "getfenv",
                                          "newproxy", "module", "require", NULL};
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_VIEWS);
    luaCreateSealed(L);
    luaOpenLib(L, "", luaopen_base);
    luaOpenLib(L, LUA_TABLIBNAME, luaopen_table);
    luaOpenLib(L, LUA_STRLIBNAME, luaopen_string);
    luaOpenLib(L, LUA_MATHLIBNAME, luaopen_math);
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_pushcfunction(L, luaPcallRedis);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, luaRawsetGuarded);
    lua_setglobal(L, "rawset");
    lua_pushcfunction(L, luaRawgetViews);
    lua_setglobal(L, "rawget");
    lua_pushcfunction(L, luaLoadstringGuarded);
    lua_setglobal(L, "loadstring");
    lua_pushcfunction(L, luaLoadGuarded);
    lua_setglobal(L, "load");
    lua_getglobal(L, "next");
    lua_pushcclosure(L, luaPairsViews, 1);
    lua_setglobal(L, "pairs");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, luaSetmetatableGuarded, 1);
    lua_setglobal(L, "setmetatable");
}

/* Strings find their methods through a metatable shared by the whole
 * interpreter: it must read the string library through its read-only view,
 * and getmetatable("") must hand out a read-only view too, or one script
 * could change string methods for the next. */
static void luaProtectStringMetatable(lua_State *L)
{
    lua_pushliteral(L, "");
    if (!lua_getmetatable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    int mt = lua_gettop(L);
    lua_getglobal(L, "string"); /* already the view */
    lua_setfield(L, mt, "__index");
    lua_pushvalue(L, mt);
    luaMakeReadonly(L);
    lua_setfield(L, mt, "__metatable");
    lua_pop(L, 2);
}

/* Invariant 4: every library table becomes a read-only view, the globals
 * table refuses new names and reading unknown ones, and the scripts' global
 * environment becomes a read-only view of it (so `_G.x = 1`, `x = 1` and
 * rawset(_G, ...) all fail as in Redis). */
void luaProtectGlobals(lua_State *L)
{
    static const char *const libs[] = {"redis", "string", "table", "math", "coroutine", "cjson",
                                       NULL};
    for (int i = 0; libs[i]; i++) {
        lua_getglobal(L, libs[i]);
        if (lua_istable(L, -1)) {
            luaMakeReadonly(L);
            lua_setglobal(L, libs[i]);
        } else {
            lua_pop(L, 1);
        }
    }
    luaProtectStringMetatable(L);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);
    lua_newtable(L);
    lua_pushcfunction(L, luaMissingGlobal);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, luaReadonlyNewindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    luaMakeReadonly(L);         /* the view scripts see as their globals */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);
    lua_pushliteral(L, "_G");
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);          /* _G is the view too */
    lua_pop(L, 1);
    lua_replace(L, LUA_GLOBALSINDEX);
}

void luaSetRealGlobal(lua_State *L, const char *name)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);
    lua_pushstring(L, name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 2);
}

/* ========================== Conversions =================================== */

/* ---- conversions: RESP reply -> Lua value ---- */

/* Pushes a table with one field, name = the value on top (popped). */
void luaWrapField(lua_State *L, const char *name)
{
    lua_newtable(L);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
}

/* Elements [0, n) as the table {v1, v2, ...}, or with as_set the keys of
 * {member = true}, or as a map {key = value}. */
static void respAggregateToLua(lua_State *L, const respValue *v, int as_set, int as_map)
{
    size_t step = as_map ? 2 : 1;
    lua_createtable(L, (as_set || as_map) ? 0 : (int)v->elements, 0);
    for (size_t i = 0; i + step <= v->elements; i += step) {
        if (as_set || as_map) {
            respToLua(L, v->element[i]);
            if (as_map) respToLua(L, v->element[i + 1]);
            else lua_pushboolean(L, 1);
            if (lua_isnil(L, -2)) lua_pop(L, 2); /* a nil key cannot be stored */
            else lua_settable(L, -3);
        } else {
            respToLua(L, v->element[i]);
            lua_rawseti(L, -2, (int)i + 1);
        }
    }
}

/* Pushes the Lua value of one reply: Redis's RESP2 and RESP3 to Lua rules. */
void respToLua(lua_State *L, const respValue *v)
{
    /* Replies nest at most RESP_MAX_DEPTH deep (the parser's limit), far
     * below Lua's stack limit; a nil marks the impossible overflow. */
    if (!lua_checkstack(L, 4)) {
        lua_pushnil(L);
        return;
    }
    const char *s = v->str ? v->str : "";
    switch (v->type) {
    case RESP_TYPE_INTEGER: lua_pushnumber(L, (lua_Number)v->integer); break;
    case RESP_TYPE_BULK: lua_pushlstring(L, s, v->len); break;
    case RESP_TYPE_SIMPLE:
        lua_pushlstring(L, s, v->len);
        luaWrapField(L, "ok");
        break;
    case RESP_TYPE_ERROR:
    case RESP_TYPE_BLOB_ERROR: {
        /* The parser dropped the '-': the first word is the code again. */
        char *dashed = malloc(v->len + 1);
        dashed[0] = '-';
        memcpy(dashed + 1, s, v->len);
        luaPushErrorTable(L, dashed, v->len + 1);
        free(dashed);
        break;
    }
    case RESP_TYPE_NULL:
        /* RESP2 nulls are false; the RESP3 null is nil. */
        if (v->wire == '_') lua_pushnil(L);
        else lua_pushboolean(L, 0);
        break;
    case RESP_TYPE_BOOL: lua_pushboolean(L, v->integer != 0); break;
    case RESP_TYPE_DOUBLE:
        lua_pushnumber(L, v->dval);
        luaWrapField(L, "double");
        break;
    case RESP_TYPE_BIGNUM:
        lua_pushlstring(L, s, v->len);
        luaWrapField(L, "big_number");
        break;
    case RESP_TYPE_VERBATIM:
        lua_newtable(L);
        lua_pushstring(L, v->vformat);
        lua_setfield(L, -2, "format");
        lua_pushlstring(L, s, v->len);
        lua_setfield(L, -2, "string");
        luaWrapField(L, "verbatim_string");
        break;
    case RESP_TYPE_MAP:
        respAggregateToLua(L, v, 0, 1);
        luaWrapField(L, "map");
        break;
    case RESP_TYPE_SET:
        respAggregateToLua(L, v, 1, 0);
        luaWrapField(L, "set");
        break;
    case RESP_TYPE_ARRAY:
    case RESP_TYPE_PUSH: respAggregateToLua(L, v, 0, 0); break;
    default: lua_pushnil(L); break;
    }
}

/* ---- conversions: Lua value -> RESP reply ---- */

/* (long long)d as Redis computes it on x86-64: NaN and values out of range
 * become LLONG_MIN (the processor's "integer indefinite"), without the
 * undefined behaviour of the plain cast. */
static long long luaNumberToLL(lua_Number d)
{
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return LLONG_MIN;
    return (long long)d;
}

/* Pushes t[name] (raw: metatables play no part, as in Redis) and returns its
 * Lua type; the table is at the top. */
static int luaRawField(lua_State *L, const char *name)
{
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    return lua_type(L, -1);
}

/* Counts the pairs of the table at the top. */
static long luaCountPairs(lua_State *L)
{
    long n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        n++;
        lua_pop(L, 1);
    }
    return n;
}

/* {map = t} or {set = t}, t at the top: its pairs (or keys) in next() order. */
static void luaMapOrSetToResp(lua_State *L, strbuf *b, int resp, int lresp, int is_map)
{
    long n = luaCountPairs(L);
    if (is_map) respAppendMapLen(b, n, resp);
    else respAppendSetLen(b, n, resp);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2); /* a copy: lua_tolstring must not touch next()'s key */
        luaToResp(L, b, resp, lresp);
        if (is_map) luaToResp(L, b, resp, lresp);
        else lua_pop(L, 1);
    }
}

/* {verbatim_string = {format = f, string = s}}, the inner table at the top;
 * 0 if malformed.  The format is cut or padded to Redis's three bytes. */
static int luaVerbatimToResp(lua_State *L, strbuf *b, int resp)
{
    int ok = 0, t = lua_gettop(L);
    lua_pushliteral(L, "string");
    lua_rawget(L, t);
    lua_pushliteral(L, "format");
    lua_rawget(L, t);
    if (lua_type(L, -1) == LUA_TSTRING && lua_type(L, -2) == LUA_TSTRING) {
        size_t slen, flen;
        const char *f = lua_tolstring(L, -1, &flen), *s = lua_tolstring(L, -2, &slen);
        char fmt3[4] = "   ";
        memcpy(fmt3, f, flen < 3 ? flen : 3);
        respAppendVerbatim(b, s, slen, fmt3, resp);
        ok = 1;
    }
    lua_settop(L, t);
    return ok;
}

/* A table reply: the first typed field that matches wins (err, ok, double,
 * big_number, map, set, verbatim_string), else the array part up to the first
 * nil.  The table is at the top and stays. */
static void luaTableToResp(lua_State *L, strbuf *b, int resp, int lresp)
{
    size_t len;
    const char *s;
    if (luaRawField(L, "err") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        respAppendError(b, s, len);
        goto pop1;
    }
    lua_pop(L, 1);
    if (luaRawField(L, "ok") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        respAppendSimple(b, s, len);
        goto pop1;
    }
    lua_pop(L, 1);
    if (luaRawField(L, "double") == LUA_TNUMBER) {
        respAppendDouble(b, lua_tonumber(L, -1), resp);
        goto pop1;
    }
    lua_pop(L, 1);
    if (luaRawField(L, "big_number") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        respAppendBigNumber(b, s, len, resp);
        goto pop1;
    }
    lua_pop(L, 1);
    for (int is_map = 1; is_map >= 0; is_map--) {
        if (luaRawField(L, is_map ? "map" : "set") == LUA_TTABLE) {
            luaMapOrSetToResp(L, b, resp, lresp, is_map);
            goto pop1;
        }
        lua_pop(L, 1);
    }
    if (luaRawField(L, "verbatim_string") == LUA_TTABLE && luaVerbatimToResp(L, b, resp)) goto pop1;
    lua_pop(L, 1);
    long n = 0;
    for (;; n++) {
        lua_rawgeti(L, -1, (int)n + 1);
        int nil = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (nil) break;
    }
    respAppendArrayLen(b, n);
    for (long j = 1; j <= n; j++) {
        lua_rawgeti(L, -1, (int)j);
        luaToResp(L, b, resp, lresp);
    }
    return;
pop1:
    lua_pop(L, 1);
}

/* Appends the RESP form of the value at the top (and pops it).  resp: the
 * caller's protocol; lresp: the script's (redis.setresp), which decides how
 * booleans come back, as in Redis. */
void luaToResp(lua_State *L, strbuf *b, int resp, int lresp)
{
    size_t len;
    const char *s;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &len);
        respAppendBulk(b, s, len);
        break;
    case LUA_TNUMBER: respAppendInteger(b, luaNumberToLL(lua_tonumber(L, -1))); break;
    case LUA_TBOOLEAN:
        if (lresp == 3) respAppendBool(b, lua_toboolean(L, -1), resp);
        else if (lua_toboolean(L, -1)) respAppendInteger(b, 1);
        else respAppendNullBulk(b, resp);
        break;
    case LUA_TTABLE:
        /* A table that contains itself would recurse for ever: Redis stops at
         * the Lua stack limit with this error, and so do we. */
        if (!lua_checkstack(L, 8)) {
            static const char e[] = "ERR reached lua stack limit";
            respAppendError(b, e, sizeof(e) - 1);
            break;
        }
        luaTableToResp(L, b, resp, lresp);
        break;
    default: respAppendNullBulk(b, resp); break;
    }
    lua_pop(L, 1);
}
