/* Read floor for monthly-finance: steps through the columns the job needs of its two big tables
 * (stock_commande, stock_facture) with sqlite3_step and the sqlite3_column_* accessors, plain
 * scans, nothing else. Built and run by bench/run.sh.
 *
 *   read_floor DATABASE
 *
 * Prints the rows read per table, a checksum (so that no read is optimised away) and the seconds.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Steps through SQL, touching every column with the accessor its storage class calls for. */
static int scan(sqlite3 *db, const char *sql, int64_t *rows, uint64_t *checksum) {
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        fprintf(stderr, "read_floor: %s: %s\n", sql, sqlite3_errmsg(db));
        return 1;
    }
    int columns = sqlite3_column_count(stmt), rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        for (int i = 0; i < columns; i++) {
            switch (sqlite3_column_type(stmt, i)) {
            case SQLITE_INTEGER: *checksum += (uint64_t)sqlite3_column_int64(stmt, i); break;
            case SQLITE_FLOAT: *checksum += (uint64_t)(int64_t)(sqlite3_column_double(stmt, i) * 100.0); break;
            case SQLITE_TEXT: {
                const unsigned char *text = sqlite3_column_text(stmt, i);
                int bytes = sqlite3_column_bytes(stmt, i);
                *checksum += (uint64_t)bytes + (bytes ? text[bytes - 1] : 0);
                break;
            }
            default: break;
            }
        }
        (*rows)++;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "read_floor: %s: %s\n", sql, sqlite3_errmsg(db));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: read_floor DATABASE\n");
        return 2;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "read_floor: cannot open %s: %s\n", argv[1], db ? sqlite3_errmsg(db) : "out of memory");
        return 1;
    }
    double started = now();
    int64_t orders = 0, invoices = 0;
    uint64_t checksum = 0;
    int failed = scan(db, "SELECT code_cmd, produit_id, client_id, quantite_cmd, date_commande FROM stock_commande",
                      &orders, &checksum)
              || scan(db, "SELECT id, commande_id, montant_total, date_facture FROM stock_facture", &invoices, &checksum);
    double seconds = now() - started;
    sqlite3_close(db);
    if (failed) return 1;
    printf("read floor: %lld orders, %lld invoices, checksum %llu, %.3f s\n", (long long)orders,
           (long long)invoices, (unsigned long long)checksum, seconds);
    return 0;
}
