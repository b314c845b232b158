/*
 * lagebild — access tokens and the tamper-evident audit log.
 *
 * Hashing and randomness come from OpenSSL's libcrypto (EVP SHA-256,
 * RAND_bytes); nothing here implements cryptography itself.
 *
 * Tokens
 * ------
 * A token is "lbt_" followed by 32 random bytes in base64url without padding
 * (43 characters): 47 characters in all.  The config never holds a token,
 * only its hash "sha256:<64 lowercase hex digits>" (the SHA-256 of the
 * token's bytes, including the "lbt_" prefix).
 *
 * Audit log
 * ---------
 * An append-only file of JSON lines, one record per line, each ending "\n":
 *
 *   {"seq":1,"time":"2026-11-26T16:00:00.123Z","principal":"...","role":"...",
 *    "resource":"...","profile":"...","outcome":"...","prev":"<64 hex>","hash":"<64 hex>"}
 *
 * (one line in the file; wrapped here).  The keys always appear in exactly
 * this order with no whitespace; seq counts from 1 without gaps; time is UTC
 * with milliseconds; the five text fields are JSON strings (NULL is written
 * as "", control characters and invalid UTF-8 are escaped / replaced by
 * U+FFFD).
 *
 * Canonical text and chaining: a record's hash is the lowercase hex SHA-256
 * of its canonical text, which is the exact bytes of its line from the
 * opening '{' up to but excluding the 75 bytes `,"hash":"<64 hex>"}` that end
 * the line, i.e. everything through the closing quote of the prev value.
 * prev is the hash of the previous record, 64 '0's for the first record.
 * Because the hash covers prev and seq, editing, removing, inserting or
 * reordering any record breaks the chain at (or right after) that line.
 *
 * The head file: removing the last records of a hash chain leaves a shorter
 * chain that is still consistent, so the log keeps an anchor next to it,
 * "<log path>.head": one line "<seq, 20 digits> <hash of that record>\n",
 * rewritten in place after every append (seq 0 and 64 '0's for an empty
 * log).  Verification requires that the log contain that record, so a log
 * cut back at a record boundary is detected as well.  Someone able to rewrite
 * both files can still forge a consistent shorter log; record the hash that
 * `lagebild audit verify` reports elsewhere (another host, a ticket) when
 * that matters.  See docs/audit.md.
 */
#ifndef LAGEBILD_AUDIT_H
#define LAGEBILD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lagebild/status.h"

/*
 * SHA-256 of n bytes as 64 lowercase hex digits and a NUL.  If the digest
 * cannot be computed (libcrypto out of memory) out is the empty string.
 */
void lb_sha256_hex(const void *data, size_t n, char out[65]);

/* base64url (RFC 4648 section 5) of n bytes without padding, NUL-terminated;
 * out needs 4 * ceil(n / 3) + 1 bytes.  Returns the length written. */
size_t lb_base64url(const unsigned char *in, size_t n, char *out);

#define LB_TOKEN_PREFIX "lbt_"
#define LB_TOKEN_RANDOM_BYTES 32
#define LB_TOKEN_LEN 47       /* "lbt_" + 43 base64url characters */
#define LB_TOKEN_HASH_LEN 71  /* "sha256:" + 64 hex digits */

/*
 * Make a new token from LB_TOKEN_RANDOM_BYTES bytes of RAND_bytes into
 * token (n must be at least LB_TOKEN_LEN + 1).  LB_EINVAL when n is too small,
 * LB_EINTERNAL when the random generator fails.
 */
lb_status lb_token_new(char *token, size_t n, lb_error *err);

/* "sha256:<64 hex>" of the token's bytes (strlen(token)); "" on failure. */
void lb_token_hash(const char *token, char out[72]);

/*
 * Compare two token hashes (or any two secrets given as strings) in constant
 * time: every byte position up to the longer length is always examined and
 * the timing does not depend on where they differ; only the lengths affect
 * the running time.  Exact byte comparison (hex case matters).  False when
 * either is NULL or empty.
 */
bool lb_token_hash_equal(const char *a, const char *b);

typedef struct lb_audit lb_audit;

/*
 * Open the audit log at path for appending, creating it (and its head file)
 * if it does not exist.  An existing log is verified first (as
 * lb_audit_verify) and its chain continued from the last record's seq and
 * hash; a log that does not verify is refused with LB_EFORMAT and a message
 * naming the first bad line, and is left untouched.  The log is locked
 * (flock) while open: a second writer, in this or another process, gets
 * LB_EIO.  Files are created with mode 0600 (less the umask).
 */
lb_status lb_audit_open(const char *path, lb_audit **out, lb_error *err);

/* fdatasync the log (and the head file) after every record; off by default. */
void lb_audit_set_fsync(lb_audit *a, bool on);

/*
 * Append one record (thread-safe).  Any of the text fields may be NULL
 * (written as "").  The line goes to the file in one write() on an O_APPEND
 * descriptor; should the write fail part-way, the partial line is cut off
 * again.  LB_EIO when writing fails; if the log could not be restored to a
 * whole record (or fdatasync failed), every later append fails as well and
 * the log must be inspected.
 */
lb_status lb_audit_append(lb_audit *a, const char *principal, const char *role,
                          const char *resource, const char *profile_key, const char *outcome,
                          lb_error *err);

/* Number of records in the log (the seq of the last one). */
uint64_t lb_audit_records(lb_audit *a);

/* Close the log (releasing the lock).  NULL is allowed. */
void lb_audit_close(lb_audit *a);

/*
 * Verify the log at path and its head file.  On success *records (may be
 * NULL) is the number of records.  On failure returns LB_EFORMAT (LB_ENOENT /
 * LB_EIO when the log cannot be read), *records is the number of good records
 * before the first bad line, and err->msg names that line and why, e.g.
 *   "line 7: hash mismatch (record edited)"
 *   "line 5: seq 6 follows 4 (record removed or reordered)"
 *   "line 3: prev does not match line 2's hash (record removed, inserted or reordered)"
 *   "line 10: incomplete last line (truncated)"
 *   "line 10: missing: the log ends after line 9 but its head file records seq 10
 *    (records removed from the end)"
 */
lb_status lb_audit_verify(const char *path, uint64_t *records, lb_error *err);

#endif
