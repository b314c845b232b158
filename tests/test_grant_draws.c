/*
 * The access decision per pass (lb_grant_draws): how the tiles and events
 * draw a feature of one label in the pass of one area of a principal's
 * grant -- exactly, generalised, or not at all -- so that several roles add
 * up to the union of what each alone sees, each part drawn once, and no
 * role's area or level lends itself to another.
 *
 * Groups: bit 0 police, bit 1 fire.  Caveat bit 0.  The source releases its
 * features generalised to fire.  Areas 0 and 1.
 */
#include "lbtest.h"

#include "lagebild/access.h"

#define POLICE 1u
#define FIRE 2u

static const lb_source_cfg src = {.generalised_groups = FIRE, .generalised_cell_m = 5000};

/* A feature of the police at this level and caveats. */
static lb_label police_feature(lb_level level, uint64_t caveats)
{
    return (lb_label){.level = level, .groups = POLICE, .caveats = caveats};
}

static lb_clearance clearance(lb_level level, uint64_t groups, uint64_t caveats, int area)
{
    return (lb_clearance){.label = {.level = level, .groups = groups, .caveats = caveats},
                          .area = area};
}

static lb_grant grant_of(int n, const lb_clearance *c)
{
    lb_grant g = {.n = n};
    for (int i = 0; i < n; i++)
        g.c[i] = c[i];
    return g;
}

/* What passes -1, 0 and 1 draw. */
static void expect(const lb_grant *g, const lb_label *f, const lb_source_cfg *s, lb_draw unlimited,
                   lb_draw area0, lb_draw area1)
{
    ASSERT_EQ(lb_grant_draws(g, -1, f, s), unlimited);
    ASSERT_EQ(lb_grant_draws(g, 0, f, s), area0);
    ASSERT_EQ(lb_grant_draws(g, 1, f, s), area1);
}

LB_TEST(test_one_role_draws_exactly_or_generalised_in_its_own_pass)
{
    lb_label f = police_feature(LB_LEVEL_VS_NFD, 0);
    lb_clearance police = clearance(LB_LEVEL_VS_NFD, POLICE, 0, -1);
    lb_grant g = grant_of(1, &police);
    expect(&g, &f, &src, LB_DRAW_EXACT, LB_DRAW_NONE, LB_DRAW_NONE);

    lb_clearance fire = clearance(LB_LEVEL_VS_NFD, FIRE, 0, -1);
    g = grant_of(1, &fire);
    expect(&g, &f, &src, LB_DRAW_GEN, LB_DRAW_NONE, LB_DRAW_NONE);
    /* no release rule, no generalised form */
    expect(&g, &f, NULL, LB_DRAW_NONE, LB_DRAW_NONE, LB_DRAW_NONE);

    lb_clearance district = clearance(LB_LEVEL_VS_NFD, POLICE, 0, 0);
    g = grant_of(1, &district);
    expect(&g, &f, &src, LB_DRAW_NONE, LB_DRAW_EXACT, LB_DRAW_NONE);
}

LB_TEST(test_level_and_caveats_bind_the_generalised_form_too)
{
    lb_clearance fire = clearance(LB_LEVEL_VS_NFD, FIRE, 0, -1);
    lb_grant g = grant_of(1, &fire);
    lb_label high = police_feature(LB_LEVEL_VS_VERTRAULICH, 0);
    expect(&g, &high, &src, LB_DRAW_NONE, LB_DRAW_NONE, LB_DRAW_NONE);
    lb_label caveat = police_feature(LB_LEVEL_OFFEN, 1);
    expect(&g, &caveat, &src, LB_DRAW_NONE, LB_DRAW_NONE, LB_DRAW_NONE);
    lb_clearance fire_cav = clearance(LB_LEVEL_VS_NFD, FIRE, 1, -1);
    g = grant_of(1, &fire_cav);
    expect(&g, &caveat, &src, LB_DRAW_GEN, LB_DRAW_NONE, LB_DRAW_NONE);
}

LB_TEST(test_exact_in_an_area_and_generalised_everywhere_add_up)
{
    lb_label f = police_feature(LB_LEVEL_VS_NFD, 0);
    const lb_clearance c[2] = {clearance(LB_LEVEL_VS_NFD, POLICE, 0, 0),
                               clearance(LB_LEVEL_VS_NFD, FIRE, 0, -1)};
    lb_grant g = grant_of(2, c);
    /* the cells everywhere, the feature itself inside area 0 */
    expect(&g, &f, &src, LB_DRAW_GEN, LB_DRAW_EXACT, LB_DRAW_NONE);
    /* a level only the generalised role may not see: the area still shows it */
    const lb_clearance d[2] = {clearance(LB_LEVEL_VS_VERTRAULICH, POLICE, 0, 0),
                               clearance(LB_LEVEL_VS_NFD, FIRE, 0, -1)};
    g = grant_of(2, d);
    lb_label high = police_feature(LB_LEVEL_VS_VERTRAULICH, 0);
    expect(&g, &high, &src, LB_DRAW_NONE, LB_DRAW_EXACT, LB_DRAW_NONE);
}

LB_TEST(test_what_the_unlimited_pass_draws_is_not_drawn_again_in_an_area)
{
    lb_label f = police_feature(LB_LEVEL_VS_NFD, 0);
    /* exact everywhere: an area's generalised or exact right adds nothing */
    const lb_clearance a[2] = {clearance(LB_LEVEL_VS_NFD, POLICE, 0, -1),
                               clearance(LB_LEVEL_VS_NFD, FIRE, 0, 0)};
    lb_grant g = grant_of(2, a);
    expect(&g, &f, &src, LB_DRAW_EXACT, LB_DRAW_NONE, LB_DRAW_NONE);
    const lb_clearance b[2] = {clearance(LB_LEVEL_VS_NFD, POLICE, 0, -1),
                               clearance(LB_LEVEL_VS_NFD, POLICE, 0, 1)};
    g = grant_of(2, b);
    expect(&g, &f, &src, LB_DRAW_EXACT, LB_DRAW_NONE, LB_DRAW_NONE);
    /* generalised everywhere: an area's generalised right adds nothing */
    const lb_clearance c[2] = {clearance(LB_LEVEL_VS_NFD, FIRE, 0, -1),
                               clearance(LB_LEVEL_VS_NFD, FIRE, 0, 0)};
    g = grant_of(2, c);
    expect(&g, &f, &src, LB_DRAW_GEN, LB_DRAW_NONE, LB_DRAW_NONE);
}

LB_TEST(test_areas_do_not_lend_their_rights_to_each_other)
{
    lb_label f = police_feature(LB_LEVEL_VS_NFD, 0);
    /* exact in area 0, generalised in area 1: each in its own pass */
    const lb_clearance a[2] = {clearance(LB_LEVEL_VS_NFD, POLICE, 0, 0),
                               clearance(LB_LEVEL_VS_NFD, FIRE, 0, 1)};
    lb_grant g = grant_of(2, a);
    expect(&g, &f, &src, LB_DRAW_NONE, LB_DRAW_EXACT, LB_DRAW_GEN);
    /* in one area, exact wins over generalised */
    const lb_clearance b[2] = {clearance(LB_LEVEL_VS_NFD, POLICE, 0, 0),
                               clearance(LB_LEVEL_VS_NFD, FIRE, 0, 0)};
    g = grant_of(2, b);
    expect(&g, &f, &src, LB_DRAW_NONE, LB_DRAW_EXACT, LB_DRAW_NONE);
    /* a higher clearance in area 1 does not raise area 0's */
    const lb_clearance c[2] = {clearance(LB_LEVEL_OFFEN, POLICE, 0, 0),
                               clearance(LB_LEVEL_VS_NFD, POLICE, 0, 1)};
    g = grant_of(2, c);
    expect(&g, &f, &src, LB_DRAW_NONE, LB_DRAW_NONE, LB_DRAW_EXACT);
}

/* A report merged into a fused feature is hidden in a pass only where that
 * pass shows the fused feature (lb_feature_superseded asks this). */
LB_TEST(test_a_pass_allows_by_its_own_and_unlimited_clearances_only)
{
    lb_label fused = police_feature(LB_LEVEL_VS_NFD, 0);
    const lb_clearance c[2] = {clearance(LB_LEVEL_OFFEN, FIRE, 0, -1),
                               clearance(LB_LEVEL_VS_NFD, POLICE, 0, 0)};
    lb_grant g = grant_of(2, c);
    ASSERT(!lb_grant_allows_in(&g, -1, &fused));
    ASSERT(lb_grant_allows_in(&g, 0, &fused));
    ASSERT(!lb_grant_allows_in(&g, 1, &fused));
    const lb_clearance d[2] = {clearance(LB_LEVEL_VS_NFD, POLICE, 0, -1),
                               clearance(LB_LEVEL_OFFEN, FIRE, 0, 0)};
    g = grant_of(2, d);
    ASSERT(lb_grant_allows_in(&g, -1, &fused));
    ASSERT(lb_grant_allows_in(&g, 0, &fused));
    ASSERT(lb_grant_allows_in(&g, 1, &fused));
}

/* The passes of a grant: the unlimited one first, then each area once. */
LB_TEST(test_a_grant_has_one_pass_per_area_the_unlimited_first)
{
    const lb_clearance c[4] = {clearance(LB_LEVEL_OFFEN, FIRE, 0, 2),
                               clearance(LB_LEVEL_VS_NFD, POLICE, 0, 0),
                               clearance(LB_LEVEL_OFFEN, POLICE, 0, -1),
                               clearance(LB_LEVEL_VS_NFD, FIRE, 0, 2)};
    lb_grant g = grant_of(4, c);
    int p[LB_GRANT_MAX];
    ASSERT_EQ(lb_grant_passes(&g, p), 3);
    ASSERT_EQ(p[0], -1);
    ASSERT_EQ(p[1], 2);
    ASSERT_EQ(p[2], 0);
    g = grant_of(2, c); /* areas only: no unlimited pass */
    ASSERT_EQ(lb_grant_passes(&g, p), 2);
    ASSERT_EQ(p[0], 2);
    ASSERT_EQ(p[1], 0);
}

LB_TESTS(test_one_role_draws_exactly_or_generalised_in_its_own_pass,
         test_a_grant_has_one_pass_per_area_the_unlimited_first,
         test_a_pass_allows_by_its_own_and_unlimited_clearances_only,
         test_level_and_caveats_bind_the_generalised_form_too,
         test_exact_in_an_area_and_generalised_everywhere_add_up,
         test_what_the_unlimited_pass_draws_is_not_drawn_again_in_an_area,
         test_areas_do_not_lend_their_rights_to_each_other)
