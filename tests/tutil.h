/*
 * Helpers for tests that drive the lagebild executable: temporary folders,
 * writing files, running a command with captured output, and querying the
 * SpatiaLite store.  Header-only; include after lbtest.h.
 */
#ifndef LB_TUTIL_H
#define LB_TUTIL_H

#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lagebild/audit.h"

/* A fresh temporary folder (static buffer per call site is fine for tests). */
static inline char *t_tmpdir(void)
{
    char tmpl[] = "/tmp/lbtest-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d)
        return NULL;
    return strdup(d);
}

static inline void t_rmrf(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static inline char *t_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static inline void t_write(const char *dir, const char *name, const char *text)
{
    char *p = t_path(dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

static inline char *t_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

typedef struct t_result {
    int status;    /* exit status, or 128+signal */
    char *out;     /* stdout */
    char *err;     /* stderr */
} t_result;

static inline void t_result_free(t_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/*
 * Run argv (NULL-terminated) with extra environment assignments env
 * ("K=V", NULL-terminated, may be NULL); capture stdout and stderr.
 */
static inline t_result t_run_env(const char *const *env, const char *const *argv)
{
    t_result r = {0};
    char outp[] = "/tmp/lbtest-out-XXXXXX", errp[] = "/tmp/lbtest-err-XXXXXX";
    int fo = mkstemp(outp), fe = mkstemp(errp);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    close(fo);
    close(fe);
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r.out = t_read_file(outp);
    r.err = t_read_file(errp);
    unlink(outp);
    unlink(errp);
    return r;
}

static inline t_result t_run(const char *const *argv) { return t_run_env(NULL, argv); }

/* Run "lagebild CMD --config CFG [extra...]" */
static inline t_result t_lagebild(const char *cmd, const char *cfg, const char *extra1,
                                  const char *extra2)
{
    const char *argv[] = {LB_BINARY, cmd, "--config", cfg, extra1, extra2, NULL};
    return t_run(argv);
}

/* Run a scalar SQL query on a store file; returns a malloc'ed text or NULL. */
static inline char *t_sql(const char *db_path, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sqlite3 *db = NULL;
    char *res = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_enable_load_extension(db, 1);
        sqlite3_load_extension(db, "mod_spatialite", NULL, NULL);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
                res = strdup((const char *)sqlite3_column_text(q, 0));
        } else {
            fprintf(stderr, "  SQL error: %s in %s\n", sqlite3_errmsg(db), sql);
        }
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return res;
}

/* Scalar SQL as integer (-1 when NULL/no row). */
static inline long long t_sql_int(const char *db_path, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *s = t_sql(db_path, "%s", sql);
    long long v = s ? atoll(s) : -1;
    free(s);
    return v;
}

static inline double t_sql_double(const char *db_path, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *s = t_sql(db_path, "%s", sql);
    double v = s ? atof(s) : NAN;
    free(s);
    return v;
}

/*
 * A token of a test config: the bearer token the test sends, its roles (the
 * items of a YAML list: "police, fire"), whether it is an admin token, and
 * its name under "tokens:" (NULL: the token itself).
 */
typedef struct t_token {
    const char *token;
    const char *roles;
    bool admin;
    const char *name;
} t_token;

/*
 * Write DIR/NAME: head (the config up to its tokens), a "tokens:" section
 * of the n tokens, then tail (may be NULL).  A config holds only the hashes
 * of its tokens; here they are made from the tokens the test sends, so the
 * two cannot disagree.  Returns the path (malloc'd).
 */
static inline char *t_config_write(const char *dir, const char *name, const char *head,
                                   const t_token *tok, size_t n, const char *tail)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fputs(head, f);
    fputs("tokens:\n", f);
    for (size_t i = 0; i < n; i++) {
        char hash[72];
        lb_token_hash(tok[i].token, hash);
        fprintf(f, "  %s: {hash: \"%s\", roles: [%s]%s}\n",
                tok[i].name ? tok[i].name : tok[i].token, hash, tok[i].roles,
                tok[i].admin ? ", admin: true" : "");
    }
    fputs(tail ? tail : "", f);
    fclose(f);
    t_write(dir, name, text);
    free(text);
    return t_path(dir, name);
}

/*
 * A one-point data set for server tests: writes DIR/one.yaml (store
 * one.sqlite, layer and map "lage", role "police" at VS-NfD, token
 * "t-police") and DIR/points.geojson (one OFFEN point at 9.0 E 52.0 N, in
 * tile T_ONE_POINT_TILE), and ingests it.  Returns the config path
 * (malloc'd), NULL when the ingest failed.
 */
#define T_ONE_POINT_TILE "/maps/lage/12/2150/1352.png"

static inline char *t_one_point_config(const char *dir)
{
    static const char config_text[] =
        "store: {path: one.sqlite}\n"
        "groups: [police]\n"
        "layers:\n"
        "  lage: {title: Lage}\n"
        "sources:\n"
        "  meldungen: {path: points.geojson, layer: lage, agency: police, label: {level: OFFEN}}\n"
        "maps:\n"
        "  lage: {title: Lage, layers: [lage]}\n"
        "roles:\n"
        "  police: {title: Polizei, clearance: {level: VS-NfD, groups: [police]}, layers: [\"*\"]}\n"
        "tokens:\n"
        "  police: {hash: \"sha256:50467e3863037604788afbe767c96c2c4317f00906d1f36cb2ead8c3f0d60b2f\", "
        "roles: [police]}\n";
    static const char points_text[] =
        "{\"type\": \"FeatureCollection\", \"features\": [{\"type\": \"Feature\", \"properties\": {},\n"
        " \"geometry\": {\"type\": \"Point\", \"coordinates\": [9.0, 52.0]}}]}\n";
    t_write(dir, "one.yaml", config_text);
    t_write(dir, "points.geojson", points_text);
    char *cfg = t_path(dir, "one.yaml");
    t_result ir = t_lagebild("ingest", cfg, "--quiet", NULL);
    int st = ir.status;
    t_result_free(&ir);
    if (st != 0) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

#endif
