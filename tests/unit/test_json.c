/* Unit tests for src/mgmt/json.c: string escaping (RFC 8259 section 7), the writer's structure
 * checks, and the strict reader of request and answer lines, malformed input included. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/json.h"
#include "unit.h"

/* Writes one string value and compares the JSON text with want. */
static bool escapes_to(const char *s, size_t len, const char *want)
{
	struct json_writer w;
	const char *text;
	bool same;

	json_writer_init(&w);
	json_string_len(&w, s, len);
	same = json_writer_finish(&w, &text) == 0 && !strcmp(text, want);
	if (!same)
		fprintf(stderr, "escaping gave %s, wanted %s\n", text ? text : "(failed)", want);
	json_writer_free(&w);
	return same;
}

static void test_escaping(void)
{
	CHECK(escapes_to("plain", 5, "\"plain\""));
	CHECK(escapes_to("", 0, "\"\""));
	CHECK(escapes_to("a\"b", 3, "\"a\\\"b\""));
	CHECK(escapes_to("back\\slash", 10, "\"back\\\\slash\""));
	CHECK(escapes_to("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""));
	CHECK(escapes_to("\x01\x1f", 2, "\"\\u0001\\u001f\""));
	CHECK(escapes_to("nul\0in", 6, "\"nul\\u0000in\""));
	CHECK(escapes_to("\x7f", 1, "\"\x7f\""));       /* DEL is allowed raw */
	CHECK(escapes_to("/", 1, "\"/\""));
	/* Well-formed UTF-8 passes: 2, 3 and 4 byte forms. */
	CHECK(escapes_to("caf\xc3\xa9", 5, "\"caf\xc3\xa9\""));
	CHECK(escapes_to("\xe2\x82\xac", 3, "\"\xe2\x82\xac\""));
	CHECK(escapes_to("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""));
	CHECK(escapes_to("\xef\xbf\xbf", 3, "\"\xef\xbf\xbf\""));
	/* Ill-formed: each bad byte becomes U+FFFD. */
	CHECK(escapes_to("\xff", 1, "\"\\ufffd\""));
	CHECK(escapes_to("a\x80z", 3, "\"a\\ufffdz\""));
	CHECK(escapes_to("\xc0\xaf", 2, "\"\\ufffd\\ufffd\""));         /* overlong '/' */
	CHECK(escapes_to("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"")); /* a surrogate */
	CHECK(escapes_to("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"")); /* > U+10FFFF */
	CHECK(escapes_to("\xe2\x82", 2, "\"\\ufffd\\ufffd\""));         /* truncated */
	CHECK(escapes_to("\xc3\xa9\xc3", 3, "\"\xc3\xa9\\ufffd\""));
	CHECK(json_utf8_valid("caf\xc3\xa9", 5));
	CHECK(!json_utf8_valid("\xc3", 1));
	CHECK(json_utf8_valid("", 0));
}

static void test_writer(void)
{
	struct json_writer w;
	const char *text;

	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "a");
	json_int(&w, -5);
	json_key(&w, "k\"ey");
	json_array_begin(&w);
	json_uint(&w, 18446744073709551615ull);
	json_bool(&w, true);
	json_null(&w);
	json_object_begin(&w);
	json_object_end(&w);
	json_array_begin(&w);
	json_array_end(&w);
	json_raw(&w, " { \"x\" : [ 1 , 2.5e3 , \"s p\" ] } ", 33);
	json_array_end(&w);
	json_object_end(&w);
	CHECK_EQ(json_writer_finish(&w, &text), 0);
	CHECK(text && !strcmp(text, "{\"a\":-5,\"k\\\"ey\":[18446744073709551615,true,null,{},[],"
					 "{\"x\":[1,2.5e3,\"s p\"]}]}"));
	json_writer_free(&w);

	/* Misuse: a value where a key is due, a key in an array, unbalanced ends, two top values. */
	json_writer_init(&w);
	json_object_begin(&w);
	json_string(&w, "no key");
	CHECK_EQ(json_writer_finish(&w, &text), -EINVAL);
	CHECK(text == NULL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_array_begin(&w);
	json_key(&w, "k");
	CHECK_EQ(json_writer_finish(&w, &text), -EINVAL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_array_begin(&w);
	json_object_end(&w);
	CHECK_EQ(json_writer_finish(&w, &text), -EINVAL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_object_begin(&w);
	CHECK_EQ(json_writer_finish(&w, &text), -EINVAL); /* unfinished */
	json_writer_free(&w);

	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "k");
	json_object_end(&w); /* key without value */
	CHECK_EQ(json_writer_finish(&w, &text), -EINVAL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_int(&w, 1);
	json_int(&w, 2);
	CHECK_EQ(json_writer_finish(&w, &text), -EINVAL);
	json_writer_free(&w);

	json_writer_init(&w);
	CHECK_EQ(json_writer_finish(&w, &text), -EINVAL); /* nothing written */
	json_writer_free(&w);

	/* Depth: JSON_DEPTH_MAX containers are fine, one more is not. */
	json_writer_init(&w);
	for (int i = 0; i < JSON_DEPTH_MAX; i++)
		json_array_begin(&w);
	for (int i = 0; i < JSON_DEPTH_MAX; i++)
		json_array_end(&w);
	CHECK_EQ(json_writer_finish(&w, &text), 0);
	json_writer_free(&w);
	json_writer_init(&w);
	for (int i = 0; i <= JSON_DEPTH_MAX; i++)
		json_array_begin(&w);
	CHECK_EQ(json_writer_finish(&w, &text), -EINVAL);
	json_writer_free(&w);

	/* Invalid raw text fails the writer. */
	static const char *bad_raw[] = {
		"", "{", "[1,]", "{\"a\"}", "01", "1.", "-", "tru", "\"x", "{} {}", "'s'",
		"[1 2]", "{\"a\":1,}", "nul", "\"\t\"", "1e", "\"\\x\"", "\"\\ud800\"",
	};
	for (size_t i = 0; i < sizeof(bad_raw) / sizeof(bad_raw[0]); i++) {
		json_writer_init(&w);
		json_raw(&w, bad_raw[i], strlen(bad_raw[i]));
		CHECK_EQ(json_writer_finish(&w, &text), -EINVAL);
		json_writer_free(&w);
	}
	static const char *good_raw[] = {
		"0", "-0.5E-7", "\"\\ud83d\\ude00\"", "[]", "{}", "true", "null", "\"\\u0000\"",
	};
	for (size_t i = 0; i < sizeof(good_raw) / sizeof(good_raw[0]); i++) {
		json_writer_init(&w);
		json_raw(&w, good_raw[i], strlen(good_raw[i]));
		CHECK_EQ(json_writer_finish(&w, &text), 0);
		CHECK(text && !strcmp(text, good_raw[i]));
		json_writer_free(&w);
	}
}

static int parse(struct json_request *req, const char *line, struct error *err)
{
	return json_request_parse(req, line, strlen(line), err);
}

static void test_request_valid(void)
{
	struct json_request req;
	struct error err = {""};

	CHECK_EQ(parse(&req, "{\"command\":\"kvp-set\",\"args\":[\"k\",\"v w\"]}", &err), 0);
	CHECK(!strcmp(req.command, "kvp-set"));
	CHECK_EQ(req.argc, 2);
	CHECK(!strcmp(req.args[0], "k") && !strcmp(req.args[1], "v w"));
	CHECK(req.args[2] == NULL);
	json_request_free(&req);

	/* No args; whitespace anywhere; unknown members skipped whatever their value. */
	CHECK_EQ(parse(&req, " \t{ \"extra\" : {\"deep\":[1,{\"x\":null}]}, \"command\" : \"ping\" }\r\n",
		       &err), 0);
	CHECK(!strcmp(req.command, "ping"));
	CHECK_EQ(req.argc, 0);
	CHECK(req.args && req.args[0] == NULL);
	json_request_free(&req);

	/* Escapes decoded: \n, \", \\, \/, \u00e9, a surrogate pair, member name escaped. */
	CHECK_EQ(parse(&req, "{\"comm\\u0061nd\":\"x\",\"args\":[\"a\\nb\",\"q\\\"\\\\\\/\","
			     "\"\\u00e9\",\"\\ud83d\\ude00\",\"\xe2\x82\xac\",\"\"]}", &err), 0);
	CHECK(!strcmp(req.command, "x"));
	CHECK_EQ(req.argc, 6);
	CHECK(!strcmp(req.args[0], "a\nb"));
	CHECK(!strcmp(req.args[1], "q\"\\/"));
	CHECK(!strcmp(req.args[2], "\xc3\xa9"));
	CHECK(!strcmp(req.args[3], "\xf0\x9f\x98\x80"));
	CHECK(!strcmp(req.args[4], "\xe2\x82\xac"));
	CHECK(!strcmp(req.args[5], ""));
	json_request_free(&req);

	CHECK_EQ(parse(&req, "{\"command\":\"c\",\"args\":[]}", &err), 0);
	CHECK_EQ(req.argc, 0);
	json_request_free(&req);
}

static void test_request_malformed(void)
{
	static const struct {
		const char *line;
		const char *says; /* a piece of the error message */
	} bad[] = {
		{"", "not a JSON object"},
		{"[\"command\"]", "not a JSON object"},
		{"\"ping\"", "not a JSON object"},
		{"{", "expected a member name"},
		{"{}", "no \"command\""},
		{"{\"args\":[]}", "no \"command\""},
		{"{\"command\":\"\"}", "empty \"command\""},
		{"{\"command\":7}", "\"command\" must be a string"},
		{"{\"command\":null}", "\"command\" must be a string"},
		{"{\"command\":[\"x\"]}", "\"command\" must be a string"},
		{"{\"command\":\"x\",\"args\":\"a\"}", "\"args\" must be an array of strings"},
		{"{\"command\":\"x\",\"args\":[1]}", "\"args\" must be an array of strings"},
		{"{\"command\":\"x\",\"args\":[\"a\",null]}", "\"args\" must be an array of strings"},
		{"{\"command\":\"x\",\"args\":[[\"a\"]]}", "\"args\" must be an array of strings"},
		{"{\"command\":\"x\",\"args\":null}", "\"args\" must be an array of strings"},
		{"{\"command\":\"x\",\"args\":[\"a\",]}", "\"args\" must be an array of strings"},
		{"{\"command\":\"x\",\"args\":[\"a\" \"b\"]}", "expected ',' or ']'"},
		{"{\"command\":\"x\",\"command\":\"y\"}", "repeated member \"command\""},
		{"{\"command\":\"x\",\"args\":[],\"args\":[]}", "repeated member \"args\""},
		{"{\"command\":\"x\"} {}", "trailing characters"},
		{"{\"command\":\"x\"}x", "trailing characters"},
		{"{\"command\":\"x\",}", "expected a member name"},
		{"{\"command\" \"x\"}", "expected ':'"},
		{"{'command':'x'}", "expected a member name"},
		{"{\"command\":\"x\" \"args\":[]}", "expected ',' or '}'"},
		{"{\"command\":\"a\\u0000b\"}", "NUL character"},
		{"{\"command\":\"a\tb\"}", "control character"},
		{"{\"command\":\"a\xff\"}", "invalid UTF-8"},
		{"{\"command\":\"a\xc0\xaf\"}", "invalid UTF-8"},
		{"{\"command\":\"\\ud800\"}", "lone high surrogate"},
		{"{\"command\":\"\\ud800\\u0041\"}", "lone high surrogate"},
		{"{\"command\":\"\\udc00\"}", "lone low surrogate"},
		{"{\"command\":\"\\u12g4\"}", "bad hex digit"},
		{"{\"command\":\"\\u12\"}", "bad hex digit"},
		{"{\"command\":\"\\q\"}", "unknown escape"},
		{"{\"command\":\"abc", "unterminated string"},
		{"{\"command\":\"x\",\"n\":01}", "expected ',' or '}'"},
		{"{\"command\":\"x\",\"n\":-}", "bad number"},
		{"{\"command\":\"x\",\"n\":tru}", "unexpected character"},
		{"{\"command\":\"x\",\"n\":", "unexpected end"},
	};
	struct json_request req;
	struct error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		CHECK_EQ(parse(&req, bad[i].line, &err), -EINVAL);
		if (!strstr(err.msg, bad[i].says))
			fprintf(stderr, "'%s': error '%s', wanted '%s'\n", bad[i].line, err.msg,
				bad[i].says);
		CHECK(strstr(err.msg, bad[i].says) != NULL);
		CHECK(req.command == NULL && req.args == NULL && req.argc == 0);
	}
	/* The position is part of the message. */
	CHECK_EQ(parse(&req, "{\"command\":\"x\",\"args\":[1]}", &err), -EINVAL);
	CHECK(strstr(err.msg, "at byte 23") != NULL);
	/* A NUL byte in the line itself ends nothing: it is a control character in a string,
	 * or stray text after the object. */
	CHECK_EQ(json_request_parse(&req, "{\"command\":\"x\0\"}", 16, &err), -EINVAL);
	CHECK_EQ(json_request_parse(&req, "{\"command\":\"x\"}\0", 16, &err), -EINVAL);
	/* Only len bytes are read: the object is cut short here. */
	CHECK_EQ(json_request_parse(&req, "{\"command\":\"x\"}", 14, &err), -EINVAL);
}

static void test_request_huge(void)
{
	struct json_request req;
	struct error err;
	size_t big = 1 << 20, n;
	char *line = malloc(big + 64);

	CHECK(line != NULL);
	if (!line)
		return;
	/* A 1 MiB argument is parsed (the socket bounds lines, not the parser). */
	n = (size_t)sprintf(line, "{\"command\":\"x\",\"args\":[\"");
	memset(line + n, 'a', big);
	n += big;
	n += (size_t)sprintf(line + n, "\"]}");
	CHECK_EQ(json_request_parse(&req, line, n, &err), 0);
	CHECK_EQ(strlen(req.args[0]), big);
	json_request_free(&req);

	/* JSON_ARGS_MAX args pass, one more fails. */
	n = (size_t)sprintf(line, "{\"command\":\"x\",\"args\":[");
	for (int i = 0; i <= JSON_ARGS_MAX; i++)
		n += (size_t)sprintf(line + n, "%s\"%d\"", i ? "," : "", i);
	strcpy(line + n, "]}");
	CHECK_EQ(json_request_parse(&req, line, strlen(line), &err), -EINVAL);
	CHECK(strstr(err.msg, "too many args") != NULL);
	n = (size_t)sprintf(line, "{\"command\":\"x\",\"args\":[");
	for (int i = 0; i < JSON_ARGS_MAX; i++)
		n += (size_t)sprintf(line + n, "%s\"%d\"", i ? "," : "", i);
	strcpy(line + n, "]}");
	CHECK_EQ(json_request_parse(&req, line, strlen(line), &err), 0);
	CHECK_EQ(req.argc, JSON_ARGS_MAX);
	CHECK(!strcmp(req.args[JSON_ARGS_MAX - 1], "255"));
	json_request_free(&req);

	/* Nesting in a skipped member is bounded: no stack overflow on 100000 brackets. */
	n = (size_t)sprintf(line, "{\"command\":\"x\",\"deep\":");
	memset(line + n, '[', 100000);
	n += 100000;
	CHECK_EQ(json_request_parse(&req, line, n, &err), -EINVAL);
	CHECK(strstr(err.msg, "nested too deep") != NULL);
	free(line);
}

static void test_answer(void)
{
	struct json_answer a;
	struct error err;
	const char *line;

	line = "{\"ok\":true,\"result\":{ \"n\" : [1, 2] },\"text\":\"two\\nlines\"}";
	CHECK_EQ(json_answer_parse(&a, line, strlen(line), &err), 0);
	CHECK(a.ok);
	CHECK(!strcmp(a.result, "{\"n\":[1,2]}"));
	CHECK(!strcmp(a.text, "two\nlines"));
	CHECK(a.error == NULL);
	json_answer_free(&a);

	line = "{\"ok\":true}";
	CHECK_EQ(json_answer_parse(&a, line, strlen(line), &err), 0);
	CHECK(!strcmp(a.result, "null") && !strcmp(a.text, ""));
	json_answer_free(&a);

	line = "{\"error\":\"no \\\"such\\\" key\",\"ok\":false,\"future\":[]}";
	CHECK_EQ(json_answer_parse(&a, line, strlen(line), &err), 0);
	CHECK(!a.ok);
	CHECK(!strcmp(a.error, "no \"such\" key"));
	json_answer_free(&a);

	static const char *bad[] = {
		"{}", "{\"ok\":false}", "{\"ok\":1}", "{\"ok\":\"true\"}", "{\"ok\":true,\"ok\":true}",
		"{\"ok\":true,\"text\":5}", "{\"ok\":false,\"error\":null}", "{\"ok\":true,\"result\":}",
		"{\"ok\":true,\"result\":1,\"result\":2}", "[]", "{\"ok\":true",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(json_answer_parse(&a, bad[i], strlen(bad[i]), &err), -EINVAL);
		CHECK(a.result == NULL && a.text == NULL && a.error == NULL);
	}
}

/* What the writer escapes, the reader gives back, for every byte value. */
static void test_round_trip(void)
{
	struct json_writer w;
	struct json_request req;
	struct error err;
	char all[128];
	const char *text;
	char *line;

	for (int i = 0; i < 127; i++) /* every ASCII byte but NUL */
		all[i] = (char)(i + 1);
	all[127] = '\0';
	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "command");
	json_string(&w, "c");
	json_key(&w, "args");
	json_array_begin(&w);
	json_string(&w, all);
	json_string(&w, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	json_string(&w, "bad\xff");
	json_array_end(&w);
	json_object_end(&w);
	CHECK_EQ(json_writer_finish(&w, &text), 0);
	CHECK(strchr(text, '\n') == NULL); /* one line, always */
	line = strdup(text);
	json_writer_free(&w);
	CHECK_EQ(json_request_parse(&req, line, strlen(line), &err), 0);
	CHECK_EQ(req.argc, 3);
	CHECK(!strcmp(req.args[0], all));
	CHECK(!strcmp(req.args[1], "caf\xc3\xa9 \xf0\x9f\x98\x80"));
	CHECK(!strcmp(req.args[2], "bad\xef\xbf\xbd")); /* U+FFFD */
	json_request_free(&req);
	free(line);
}

int main(void)
{
	test_escaping();
	test_writer();
	test_request_valid();
	test_request_malformed();
	test_request_huge();
	test_answer();
	test_round_trip();
	return unit_done("test_json");
}
