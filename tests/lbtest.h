/*
 * lagebild's minimal test harness: one executable per test file, each test a
 * function registered in LB_TESTS; the ASSERT macros print both values on
 * failure and abort the current test.  The executable exits non-zero when any
 * test failed and prints "N passed, N failed" at the end.
 */
#ifndef LBTEST_H
#define LBTEST_H

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern jmp_buf lbtest__jmp;
extern int lbtest__failed_now;

#define LBT__FAIL(...)                                                  \
    do {                                                                \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);               \
        fprintf(stderr, __VA_ARGS__);                                   \
        fputc('\n', stderr);                                            \
        lbtest__failed_now = 1;                                         \
        longjmp(lbtest__jmp, 1);                                        \
    } while (0)

#define ASSERT(c)                                                       \
    do {                                                                \
        if (!(c))                                                       \
            LBT__FAIL("assertion failed: %s", #c);                      \
    } while (0)
#define ASSERT_EQ(a, b)                                                 \
    do {                                                                \
        long long lbt_a = (long long)(a), lbt_b = (long long)(b);       \
        if (lbt_a != lbt_b)                                             \
            LBT__FAIL("%s == %s: %lld != %lld", #a, #b, lbt_a, lbt_b);  \
    } while (0)
#define ASSERT_NE(a, b)                                                 \
    do {                                                                \
        long long lbt_a = (long long)(a), lbt_b = (long long)(b);       \
        if (lbt_a == lbt_b)                                             \
            LBT__FAIL("%s != %s: both %lld", #a, #b, lbt_a);            \
    } while (0)
#define ASSERT_STREQ(a, b)                                              \
    do {                                                                \
        const char *lbt_a = (a), *lbt_b = (b);                          \
        if (!lbt_a || !lbt_b || strcmp(lbt_a, lbt_b) != 0)              \
            LBT__FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,             \
                      lbt_a ? lbt_a : "(null)", lbt_b ? lbt_b : "(null)"); \
    } while (0)
#define ASSERT_CONTAINS(hay, needle)                                    \
    do {                                                                \
        const char *lbt_h = (hay), *lbt_n = (needle);                   \
        if (!lbt_h || !strstr(lbt_h, lbt_n))                            \
            LBT__FAIL("%s does not contain \"%s\":\n----\n%s\n----",    \
                      #hay, lbt_n, lbt_h ? lbt_h : "(null)");           \
    } while (0)
#define ASSERT_NEAR(a, b, tol)                                          \
    do {                                                                \
        double lbt_a = (a), lbt_b = (b), lbt_t = (tol);                 \
        if (!(fabs(lbt_a - lbt_b) <= lbt_t))                            \
            LBT__FAIL("%s ~= %s: %.10g vs %.10g (tolerance %g)", #a, #b, \
                      lbt_a, lbt_b, lbt_t);                             \
    } while (0)

typedef struct {
    const char *name;
    void (*fn)(void);
} lbtest_case;

#define LB_TEST(name) static void name(void)

/* Define the test list and main(): LB_TESTS(test_a, test_b, ...) */
#define LBT__ENTRY(fn) {#fn, fn},
#define LB_TESTS(...)                                                   \
    jmp_buf lbtest__jmp;                                                \
    int lbtest__failed_now;                                             \
    static const lbtest_case lbtest__cases[] = {LBT__MAP(__VA_ARGS__)}; \
    int main(int argc, char **argv)                                     \
    {                                                                   \
        return lbtest__run(lbtest__cases,                               \
                           sizeof lbtest__cases / sizeof lbtest__cases[0], \
                           argc > 1 ? argv[1] : NULL);                  \
    }

static inline int lbtest__run(const lbtest_case *cases, size_t n, const char *only)
{
    /* volatile: modified between setjmp and longjmp */
    volatile int passed = 0, failed = 0;
    for (volatile size_t i = 0; i < n; i++) {
        if (only && !strstr(cases[i].name, only))
            continue;
        lbtest__failed_now = 0;
        fprintf(stderr, "[ RUN  ] %s\n", cases[i].name);
        if (setjmp(lbtest__jmp) == 0)
            cases[i].fn();
        if (lbtest__failed_now) {
            failed++;
            fprintf(stderr, "[ FAIL ] %s\n", cases[i].name);
        } else {
            passed++;
            fprintf(stderr, "[  OK  ] %s\n", cases[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* Variadic map over up to 40 test names. */
#define LBT__MAP(...) LBT__MAPN(__VA_ARGS__, LBT__M40, LBT__M39, LBT__M38, LBT__M37, LBT__M36, LBT__M35, LBT__M34, LBT__M33, LBT__M32, LBT__M31, LBT__M30, LBT__M29, LBT__M28, LBT__M27, LBT__M26, LBT__M25, LBT__M24, LBT__M23, LBT__M22, LBT__M21, LBT__M20, LBT__M19, LBT__M18, LBT__M17, LBT__M16, LBT__M15, LBT__M14, LBT__M13, LBT__M12, LBT__M11, LBT__M10, LBT__M9, LBT__M8, LBT__M7, LBT__M6, LBT__M5, LBT__M4, LBT__M3, LBT__M2, LBT__M1)(__VA_ARGS__)
#define LBT__MAPN(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, _33, _34, _35, _36, _37, _38, _39, _40, M, ...) M
#define LBT__M1(a) LBT__ENTRY(a)
#define LBT__M2(a, ...) LBT__ENTRY(a) LBT__M1(__VA_ARGS__)
#define LBT__M3(a, ...) LBT__ENTRY(a) LBT__M2(__VA_ARGS__)
#define LBT__M4(a, ...) LBT__ENTRY(a) LBT__M3(__VA_ARGS__)
#define LBT__M5(a, ...) LBT__ENTRY(a) LBT__M4(__VA_ARGS__)
#define LBT__M6(a, ...) LBT__ENTRY(a) LBT__M5(__VA_ARGS__)
#define LBT__M7(a, ...) LBT__ENTRY(a) LBT__M6(__VA_ARGS__)
#define LBT__M8(a, ...) LBT__ENTRY(a) LBT__M7(__VA_ARGS__)
#define LBT__M9(a, ...) LBT__ENTRY(a) LBT__M8(__VA_ARGS__)
#define LBT__M10(a, ...) LBT__ENTRY(a) LBT__M9(__VA_ARGS__)
#define LBT__M11(a, ...) LBT__ENTRY(a) LBT__M10(__VA_ARGS__)
#define LBT__M12(a, ...) LBT__ENTRY(a) LBT__M11(__VA_ARGS__)
#define LBT__M13(a, ...) LBT__ENTRY(a) LBT__M12(__VA_ARGS__)
#define LBT__M14(a, ...) LBT__ENTRY(a) LBT__M13(__VA_ARGS__)
#define LBT__M15(a, ...) LBT__ENTRY(a) LBT__M14(__VA_ARGS__)
#define LBT__M16(a, ...) LBT__ENTRY(a) LBT__M15(__VA_ARGS__)
#define LBT__M17(a, ...) LBT__ENTRY(a) LBT__M16(__VA_ARGS__)
#define LBT__M18(a, ...) LBT__ENTRY(a) LBT__M17(__VA_ARGS__)
#define LBT__M19(a, ...) LBT__ENTRY(a) LBT__M18(__VA_ARGS__)
#define LBT__M20(a, ...) LBT__ENTRY(a) LBT__M19(__VA_ARGS__)
#define LBT__M21(a, ...) LBT__ENTRY(a) LBT__M20(__VA_ARGS__)
#define LBT__M22(a, ...) LBT__ENTRY(a) LBT__M21(__VA_ARGS__)
#define LBT__M23(a, ...) LBT__ENTRY(a) LBT__M22(__VA_ARGS__)
#define LBT__M24(a, ...) LBT__ENTRY(a) LBT__M23(__VA_ARGS__)
#define LBT__M25(a, ...) LBT__ENTRY(a) LBT__M24(__VA_ARGS__)
#define LBT__M26(a, ...) LBT__ENTRY(a) LBT__M25(__VA_ARGS__)
#define LBT__M27(a, ...) LBT__ENTRY(a) LBT__M26(__VA_ARGS__)
#define LBT__M28(a, ...) LBT__ENTRY(a) LBT__M27(__VA_ARGS__)
#define LBT__M29(a, ...) LBT__ENTRY(a) LBT__M28(__VA_ARGS__)
#define LBT__M30(a, ...) LBT__ENTRY(a) LBT__M29(__VA_ARGS__)
#define LBT__M31(a, ...) LBT__ENTRY(a) LBT__M30(__VA_ARGS__)
#define LBT__M32(a, ...) LBT__ENTRY(a) LBT__M31(__VA_ARGS__)
#define LBT__M33(a, ...) LBT__ENTRY(a) LBT__M32(__VA_ARGS__)
#define LBT__M34(a, ...) LBT__ENTRY(a) LBT__M33(__VA_ARGS__)
#define LBT__M35(a, ...) LBT__ENTRY(a) LBT__M34(__VA_ARGS__)
#define LBT__M36(a, ...) LBT__ENTRY(a) LBT__M35(__VA_ARGS__)
#define LBT__M37(a, ...) LBT__ENTRY(a) LBT__M36(__VA_ARGS__)
#define LBT__M38(a, ...) LBT__ENTRY(a) LBT__M37(__VA_ARGS__)
#define LBT__M39(a, ...) LBT__ENTRY(a) LBT__M38(__VA_ARGS__)
#define LBT__M40(a, ...) LBT__ENTRY(a) LBT__M39(__VA_ARGS__)

#endif
