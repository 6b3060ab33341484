/* test_script_lua.c - cmocka tests for server/script_lua.c: Redis 7.0's
 * conversions of replies to Lua values and back (RESP2 and RESP3 callers,
 * RESP2 and RESP3 scripts), its error tables, and the sandbox (read-only
 * globals and libraries, loaders that refuse bytecode, Redis's pcall).  The
 * expected bytes are what redis-server 7.0.15 answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/script_lua.h"

/* ================================ Helpers ================================= */

static lua_State *newSandbox(void) {
    lua_State *L = luaL_newstate();
    luaOpenSandboxedLibs(L);
    luaProtectGlobals(L);
    return L;
}

static int setupSandbox(void **state) {
    *state = newSandbox();
    return 0;
}

static int teardownSandbox(void **state) {
    lua_close(*state);
    return 0;
}

/* Runs chunk, converts its first result for a caller speaking resp with a
 * script speaking lresp, and compares the bytes. */
static void replyIs(lua_State *L, const char *chunk, int resp, int lresp, const char *want,
                    size_t wantlen) {
    assert_int_equal(luaL_loadstring(L, chunk), 0);
    if (lua_pcall(L, 0, 1, 0) != 0) fail_msg("%s: %s", chunk, lua_tostring(L, -1));
    strbuf b;
    sbInit(&b);
    luaToResp(L, &b, resp, lresp);
    if (b.len != wantlen || memcmp(b.buf, want, wantlen))
        fail_msg("%s: got %.*s", chunk, (int)b.len, b.buf);
    assert_int_equal(lua_gettop(L), 0);
    sbFree(&b);
}

#define REPLY2(L, chunk, want) replyIs(L, chunk, 2, 2, want, sizeof(want) - 1)
#define REPLY3(L, chunk, want) replyIs(L, chunk, 3, 2, want, sizeof(want) - 1)

/* Parses reply, converts it to Lua, then runs check (a chunk given the value
 * as `...`) which must return true. */
static void luaValueOk(lua_State *L, const char *reply, const char *check) {
    respValue *v = NULL;
    size_t used = 0;
    const char *err = NULL;
    assert_int_equal(respParseValue(reply, strlen(reply), &used, &v, &err), RESP_DONE);
    assert_int_equal(luaL_loadstring(L, check), 0);
    respToLua(L, v);
    respValueFree(v);
    if (lua_pcall(L, 1, 1, 0) != 0) fail_msg("%s: %s", check, lua_tostring(L, -1));
    if (!lua_toboolean(L, -1)) fail_msg("%s on %s", check, reply);
    lua_pop(L, 1);
}

/* Runs chunk, which must fail with exactly msg. */
static void failsWith(lua_State *L, const char *chunk, const char *msg) {
    assert_int_equal(luaL_loadbuffer(L, chunk, strlen(chunk), "@user_script"), 0);
    assert_int_not_equal(lua_pcall(L, 0, 0, 0), 0);
    assert_string_equal(lua_tostring(L, -1), msg);
    lua_pop(L, 1);
}

/* ============================= Lua -> RESP ================================ */

static void test_numbers_strings_booleans(void **state) {
    lua_State *L = *state;
    REPLY2(L, "return 1", ":1\r\n");
    REPLY2(L, "return 3.99", ":3\r\n");
    REPLY2(L, "return -3.7", ":-3\r\n");
    REPLY2(L, "return 1e30", ":-9223372036854775808\r\n");
    REPLY2(L, "return 0/0", ":-9223372036854775808\r\n");
    REPLY2(L, "return 'hi'", "$2\r\nhi\r\n");
    REPLY2(L, "return true", ":1\r\n");
    REPLY2(L, "return false", "$-1\r\n");
    REPLY2(L, "return nil", "$-1\r\n");
    REPLY3(L, "return false", "_\r\n");
    REPLY3(L, "return true", ":1\r\n");
    /* a RESP3 script's booleans */
    replyIs(L, "return true", 3, 3, "#t\r\n", 4);
    replyIs(L, "return false", 2, 3, ":0\r\n", 4);
}

static void test_tables(void **state) {
    lua_State *L = *state;
    REPLY2(L, "return {1,2,3,'x',nil,5}", "*4\r\n:1\r\n:2\r\n:3\r\n$1\r\nx\r\n");
    REPLY2(L, "return {1,{2,{3}},false,true}", "*4\r\n:1\r\n*2\r\n:2\r\n*1\r\n:3\r\n$-1\r\n:1\r\n");
    REPLY2(L, "return {a=1}", "*0\r\n");
    REPLY2(L, "return {ok='fine'}", "+fine\r\n");
    REPLY2(L, "return {err='My Error'}", "-My Error\r\n");
    REPLY2(L, "return {ok='a', err='b'}", "-b\r\n");
    REPLY2(L, "return {err=5}", "*0\r\n");
    REPLY2(L, "return {1, {err='inner'}, {ok='s'}}", "*3\r\n:1\r\n-inner\r\n+s\r\n");
    REPLY2(L, "return setmetatable({}, {__index=function() return 1 end})", "*0\r\n");
}

static void test_resp3_types(void **state) {
    lua_State *L = *state;
    REPLY3(L, "return {double=3.5}", ",3.5\r\n");
    REPLY2(L, "return {double=3.5}", "$3\r\n3.5\r\n");
    REPLY3(L, "return {map={a=1}}", "%1\r\n$1\r\na\r\n:1\r\n");
    REPLY2(L, "return {map={a=1}}", "*2\r\n$1\r\na\r\n:1\r\n");
    REPLY3(L, "return {set={a=true}}", "~1\r\n$1\r\na\r\n");
    REPLY3(L, "return {big_number='123'}", "(123\r\n");
    REPLY2(L, "return {big_number='123'}", "$3\r\n123\r\n");
    REPLY3(L, "return {verbatim_string={format='md', string='x'}}", "=5\r\nmd :x\r\n");
    REPLY3(L, "return {verbatim_string={format='markdown', string='x'}}", "=5\r\nmar:x\r\n");
    REPLY2(L, "return {verbatim_string={format='txt', string='hello'}}", "$5\r\nhello\r\n");
    REPLY3(L, "return {verbatim_string={string='x'}}", "*0\r\n");
}

static void test_self_reference_stops(void **state) {
    lua_State *L = *state;
    assert_int_equal(luaL_loadstring(L, "local t = {} t[1] = t return t"), 0);
    assert_int_equal(lua_pcall(L, 0, 1, 0), 0);
    strbuf b;
    sbInit(&b);
    luaToResp(L, &b, 2, 2);
    static const char tail[] = "-ERR reached lua stack limit\r\n";
    assert_true(b.len > sizeof(tail));
    assert_memory_equal(b.buf + b.len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    assert_memory_equal(b.buf, "*1\r\n*1\r\n", 8);
    sbFree(&b);
    assert_int_equal(lua_gettop(L), 0);
}

/* ============================= RESP -> Lua ================================ */

static void test_reply_to_lua(void **state) {
    lua_State *L = *state;
    luaValueOk(L, ":42\r\n", "return ... == 42");
    luaValueOk(L, "$3\r\nabc\r\n", "return ... == 'abc'");
    luaValueOk(L, "+OK\r\n", "return (...).ok == 'OK'");
    luaValueOk(L, "-ERR bad thing\r\n", "return (...).err == 'ERR bad thing'");
    luaValueOk(L, "-WRONGTYPE Operation\r\n", "return (...).err == 'WRONGTYPE Operation'");
    luaValueOk(L, "-NOSPACE\r\n", "return (...).err == 'ERR NOSPACE'");
    luaValueOk(L, "$-1\r\n", "return ... == false");
    luaValueOk(L, "*-1\r\n", "return ... == false");
    luaValueOk(L, "_\r\n", "return ... == nil");
    luaValueOk(L, "*3\r\n:1\r\n$-1\r\n$1\r\nx\r\n",
               "local t = ... return #t == 3 and t[1] == 1 and t[2] == false and t[3] == 'x'");
    luaValueOk(L, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n", "return (...).map.f == 'v'");
    luaValueOk(L, "~2\r\n$1\r\na\r\n$1\r\nb\r\n", "local s = (...).set return s.a and s.b");
    luaValueOk(L, ",1.5\r\n", "return (...).double == 1.5");
    luaValueOk(L, "#t\r\n", "return ... == true");
    luaValueOk(L, "#f\r\n", "return ... == false");
    luaValueOk(L, "(12345678901234567890\r\n",
               "return (...).big_number == '12345678901234567890'");
    luaValueOk(L, "=9\r\ntxt:hello\r\n",
               "local v = (...).verbatim_string return v.format == 'txt' and v.string == 'hello'");
}

static void test_error_tables(void **state) {
    lua_State *L = *state;
    static const struct {
        const char *in, *out;
    } cases[] = {{"-My Error", "My Error"}, {"My Error", "ERR My Error"},
                 {"-", "ERR "},             {"", "ERR "},
                 {"-ERR x\r\n", "ERR x"},   {"-NOSPACE", "ERR NOSPACE"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        luaPushErrorTable(L, cases[i].in, strlen(cases[i].in));
        lua_getfield(L, -1, "err");
        assert_string_equal(lua_tostring(L, -1), cases[i].out);
        lua_pop(L, 2);
    }
}

/* ============================= Sandbox ==================================== */

static void test_globals_are_read_only(void **state) {
    lua_State *L = *state;
    failsWith(L, "x = 1", "user_script:1: Attempt to modify a readonly table");
    failsWith(L, "_G.x = 1", "user_script:1: Attempt to modify a readonly table");
    failsWith(L, "string.x = 1", "user_script:1: Attempt to modify a readonly table");
    failsWith(L, "rawset(_G, 'x', 1)", "Attempt to modify a readonly table");
    failsWith(L, "setmetatable(_G, nil)", "Attempt to modify a readonly table");
    failsWith(L, "getmetatable('').__index.upper = nil",
              "user_script:1: Attempt to modify a readonly table");
    failsWith(L, "return y", "user_script:1: Script attempted to access nonexistent global "
                             "variable 'y'");
    failsWith(L, "return print", "user_script:1: Script attempted to access nonexistent global "
                                 "variable 'print'");
    REPLY2(L, "return ('x'):upper()", "$1\r\nX\r\n");
    REPLY2(L, "return type(rawget(_G, 'string'))", "$5\r\ntable\r\n");
    REPLY2(L, "local n = 0 for k in pairs(math) do n = n + 1 end return n > 10", ":1\r\n");
    /* KEYS and ARGV are set past the protection */
    lua_pushliteral(L, "k");
    luaSetRealGlobal(L, "KEYS");
    REPLY2(L, "return KEYS", "$1\r\nk\r\n");
}

static void test_bytecode_refused(void **state) {
    lua_State *L = *state;
    REPLY2(L, "return {loadstring(string.dump(function() return 1 end))}", "*0\r\n");
    REPLY2(L, "return select(2, loadstring(string.dump(function() return 1 end)))",
           "$53\r\n[string \"\x1bLuaQ\"]:1: unexpected symbol near 'char(27)'\r\n");
    REPLY2(L, "return loadstring('return 7')()", ":7\r\n");
}

static void test_pcall_unwraps_error_tables(void **state) {
    lua_State *L = *state;
    REPLY2(L, "return {pcall(error, {err='x'})}", "*2\r\n$-1\r\n$1\r\nx\r\n");
    REPLY2(L, "local ok, e = pcall(error, {foo=1}) return type(e)", "$5\r\ntable\r\n");
    REPLY2(L, "return {pcall(function() return 1, 2 end)}", "*3\r\n:1\r\n:1\r\n:2\r\n");
    REPLY2(L, "return {pcall()}", "*2\r\n$-1\r\n$27\r\nattempt to call a nil value\r\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_numbers_strings_booleans, setupSandbox,
                                        teardownSandbox),
        cmocka_unit_test_setup_teardown(test_tables, setupSandbox, teardownSandbox),
        cmocka_unit_test_setup_teardown(test_resp3_types, setupSandbox, teardownSandbox),
        cmocka_unit_test_setup_teardown(test_self_reference_stops, setupSandbox, teardownSandbox),
        cmocka_unit_test_setup_teardown(test_reply_to_lua, setupSandbox, teardownSandbox),
        cmocka_unit_test_setup_teardown(test_error_tables, setupSandbox, teardownSandbox),
        cmocka_unit_test_setup_teardown(test_globals_are_read_only, setupSandbox,
                                        teardownSandbox),
        cmocka_unit_test_setup_teardown(test_bytecode_refused, setupSandbox, teardownSandbox),
        cmocka_unit_test_setup_teardown(test_pcall_unwraps_error_tables, setupSandbox,
                                        teardownSandbox),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
