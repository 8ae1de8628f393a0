/*
 * Ember: C `long double` helpers for util::float.
 *
 * Redis parses INCRBYFLOAT / HINCRBYFLOAT operands and float timeouts with
 * strtold and adds them as `long double` (80-bit x87 extended precision on
 * x86-64), then prints sums with "%.17Lf". Rust has no such type, so these
 * few operations run here. All strings are passed with explicit lengths.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest operand text accepted, plus one (Redis's MAX_LONG_DOUBLE_CHARS). */
#define EMBER_LD_MAX_CHARS (5 * 1024)

/*
 * Parses the whole of s[0..len) as a long double with Redis's rules:
 * non-empty and shorter than EMBER_LD_MAX_CHARS, no leading blank, every
 * byte consumed, no overflow, no underflow to zero, not NaN.
 * Returns 1 and stores the value on success, 0 otherwise.
 */
static int ember_parse_ld(const char *s, size_t len, long double *out) {
    char buf[EMBER_LD_MAX_CHARS];
    char *end;
    long double v;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return 0;
    errno = 0;
    v = strtold(buf, &end);
    if ((size_t)(end - buf) != len) return 0;
    if (errno == ERANGE && (isinf(v) || v == 0)) return 0;
    if (isnan(v)) return 0;
    *out = v;
    return 1;
}

/* Status codes shared with src/util/float.rs. */
#define EMBER_LD_OK 0
#define EMBER_LD_BAD_CURRENT 1
#define EMBER_LD_BAD_INCREMENT 2
#define EMBER_LD_INCREMENT_NOT_FINITE 3
#define EMBER_LD_RESULT_NOT_FINITE 4
#define EMBER_LD_NO_ROOM 5

/*
 * current + incr in long double, printed like Redis's "human" long double
 * format: "%.17Lf" with trailing zeros (and then a trailing '.') removed,
 * and "-0" turned into "0".
 *
 * check_incr_first selects the order of the checks: 0 is INCRBYFLOAT's
 * (current, then increment, then the sum), 1 is HINCRBYFLOAT's (increment,
 * then whether it is infinite, then current, then the sum). When `current`
 * is NULL the current value is 0.
 *
 * On EMBER_LD_OK, out[0..*out_len) holds the text (not NUL-terminated).
 */
int ember_ld_incr(const char *current, size_t current_len, const char *incr,
                  size_t incr_len, int check_incr_first, char *out,
                  size_t out_cap, size_t *out_len) {
    long double value = 0, increment = 0;
    int n;

    if (check_incr_first) {
        if (!ember_parse_ld(incr, incr_len, &increment))
            return EMBER_LD_BAD_INCREMENT;
        if (isinf(increment)) return EMBER_LD_INCREMENT_NOT_FINITE;
        if (current && !ember_parse_ld(current, current_len, &value))
            return EMBER_LD_BAD_CURRENT;
    } else {
        if (current && !ember_parse_ld(current, current_len, &value))
            return EMBER_LD_BAD_CURRENT;
        if (!ember_parse_ld(incr, incr_len, &increment))
            return EMBER_LD_BAD_INCREMENT;
    }
    value += increment;
    if (isnan(value) || isinf(value)) return EMBER_LD_RESULT_NOT_FINITE;

    n = snprintf(out, out_cap, "%.17Lf", value);
    if (n < 0 || (size_t)n + 1 > out_cap) return EMBER_LD_NO_ROOM;
    if (memchr(out, '.', (size_t)n) != NULL) {
        while (out[n - 1] == '0') n--;
        if (out[n - 1] == '.') n--;
    }
    if (n == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        n = 1;
    }
    *out_len = (size_t)n;
    return EMBER_LD_OK;
}

/*
 * Parses s with the rules above and stores the value rounded to double.
 * Returns 1 on success, 0 when the text is not an acceptable long double.
 */
int ember_ld_parse_as_double(const char *s, size_t len, double *out) {
    long double v;
    if (!ember_parse_ld(s, len, &v)) return 0;
    *out = (double)v;
    return 1;
}

/*
 * Parses a timeout in seconds and converts it to whole milliseconds the way
 * Redis does: (long long)(seconds * 1000.0) in long double, truncating toward
 * zero. A product outside the long long range gives LLONG_MIN, which is what
 * the x86-64 conversion instruction yields there (so Redis then reports a
 * negative timeout). Returns 1 on success, 0 on unacceptable text.
 */
int ember_ld_seconds_to_ms(const char *s, size_t len, long long *out) {
    long double v, ms;
    if (!ember_parse_ld(s, len, &v)) return 0;
    ms = v * 1000.0;
    /* 2^63 is exactly representable; anything not strictly inside is out. */
    if (!(ms > -9223372036854775808.0L && ms < 9223372036854775808.0L))
        *out = (-9223372036854775807LL - 1);
    else
        *out = (long long)ms;
    return 1;
}
