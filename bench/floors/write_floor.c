/* Write floor for the nightly workbook: writes the cells of stockflow's nightly workbook (dumped by
 * xlsx_cells.py, loaded whole into memory first) with libxlsxwriter in constant-memory mode, with
 * the same styles, column widths, frozen header rows and filters; no charts. Built and run by
 * bench/run.sh.
 *
 *   write_floor CELLS.tsv OUT.xlsx
 *
 * Prints the cells written and the seconds of the write alone (workbook_new to workbook_close).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xlsxwriter.h>

typedef struct { uint32_t row; uint16_t col; uint16_t style; char kind; double number; char *text; char *formula; } cell;
typedef struct { char *name; int frozen; char *filter; double widths[64]; size_t first, count; } sheet;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Splits a line in place at tabs and undoes xlsx_cells.py's escapes; returns the field count. */
static int fields(char *line, char **out, int max) {
    int n = 0;
    char *w = line, *r = line;
    out[n++] = w;
    for (; *r; r++) {
        if (*r == '\t' && n < max) { *w++ = 0; out[n++] = w; continue; }
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
            continue;
        }
        *w++ = *r;
    }
    *w = 0;
    return n;
}

static lxw_color_t rgb(const char *argb) { return *argb ? (lxw_color_t)strtoul(argb + 2, NULL, 16) : LXW_COLOR_UNSET; }

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: write_floor CELLS.tsv OUT.xlsx\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) { perror(argv[1]); return 1; }
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    rewind(in);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, in) != (size_t)size) { fprintf(stderr, "write_floor: cannot read %s\n", argv[1]); return 1; }
    data[size] = 0;
    fclose(in);

    /* Load everything into memory first. */
    size_t cap = 1 << 20, ncells = 0, nsheets = 0, nstyles = 0;
    cell *cells = malloc(cap * sizeof(cell));
    sheet sheets[64];
    char *style_fields[256][9];
    char *line = data;
    while (line && *line) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        char *f[8];
        if (line[0] == 'C') {
            int n = fields(line + 2, f, 6);
            if (n < 5) { fprintf(stderr, "write_floor: bad line\n"); return 1; }
            if (ncells == cap) cells = realloc(cells, (cap *= 2) * sizeof(cell));
            cell *c = &cells[ncells++];
            c->row = (uint32_t)strtoul(f[0], NULL, 10);
            c->col = (uint16_t)strtoul(f[1], NULL, 10);
            c->style = (uint16_t)strtoul(f[2], NULL, 10);
            c->kind = f[3][0];
            c->text = f[4];
            c->number = (c->kind == 'n' || c->kind == 'f') && *f[4] ? strtod(f[4], NULL) : 0;
            if (c->kind == 'n' && !*f[4]) c->kind = '_';
            c->formula = n > 5 ? f[5] : NULL;
            sheets[nsheets - 1].count++;
        } else if (line[0] == 'S' && nsheets < 64) {
            fields(line + 2, f, 3);
            sheet *s = &sheets[nsheets++];
            s->name = f[0];
            s->frozen = atoi(f[1]);
            s->filter = f[2];
            for (int i = 0; i < 64; i++) s->widths[i] = -1;
            s->first = ncells;
            s->count = 0;
        } else if (line[0] == 'W' && nsheets) {
            fields(line + 2, f, 2);
            int col = atoi(f[0]);
            if (col < 64) sheets[nsheets - 1].widths[col] = strtod(f[1], NULL);
        } else if (line[0] == 'X' && nstyles < 256) {
            fields(line + 2, style_fields[nstyles++], 8);
        }
        line = end ? end + 1 : NULL;
    }

    double started = now();
    lxw_workbook_options options = {.constant_memory = LXW_TRUE};
    lxw_workbook *book = workbook_new_opt(argv[2], &options);
    if (!book) { fprintf(stderr, "write_floor: cannot create %s\n", argv[2]); return 1; }
    lxw_format *formats[256] = {0};
    for (size_t i = 1; i < nstyles; i++) {
        char **x = style_fields[i];
        lxw_format *fmt = workbook_add_format(book);
        int id = atoi(x[0]);
        if (id >= 164) format_set_num_format(fmt, x[1]);
        else if (id) format_set_num_format_index(fmt, (uint8_t)id);
        if (atoi(x[2])) format_set_bold(fmt);
        if (*x[3]) format_set_font_color(fmt, rgb(x[3]));
        if (*x[4]) format_set_bg_color(fmt, rgb(x[4]));
        if (atoi(x[5])) format_set_bottom(fmt, LXW_BORDER_THIN);
        if (atoi(x[6])) format_set_text_wrap(fmt);
        if (atoi(x[7])) format_set_align(fmt, LXW_ALIGN_VERTICAL_CENTER);
        formats[i] = fmt;
    }
    size_t written = 0;
    for (size_t s = 0; s < nsheets; s++) {
        lxw_worksheet *ws = workbook_add_worksheet(book, sheets[s].name);
        for (int c = 0; c < 64; c++)
            if (sheets[s].widths[c] >= 0) worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, sheets[s].widths[c] - 0.7109375, NULL);
        if (sheets[s].frozen) worksheet_freeze_panes(ws, (lxw_row_t)sheets[s].frozen, 0);
        if (*sheets[s].filter) {
            lxw_row_t r1, r2; lxw_col_t c1, c2;
            char a[8], b[8];
            unsigned x1, x2;
            if (sscanf(sheets[s].filter, "%7[A-Z]%u:%7[A-Z]%u", a, &x1, b, &x2) == 4) {
                c1 = lxw_name_to_col(a); c2 = lxw_name_to_col(b);
                r1 = x1 - 1; r2 = x2 - 1;
                worksheet_autofilter(ws, r1, c1, r2, c2);
            }
        }
        for (size_t i = sheets[s].first; i < sheets[s].first + sheets[s].count; i++) {
            cell *c = &cells[i];
            lxw_format *fmt = c->style < 256 ? formats[c->style] : NULL;
            switch (c->kind) {
            case 's': worksheet_write_string(ws, c->row, c->col, c->text, fmt); break;
            case 'b': worksheet_write_boolean(ws, c->row, c->col, c->text[0] == '1', fmt); break;
            case 'f': worksheet_write_formula_num(ws, c->row, c->col, c->formula, fmt, c->number); break;
            case 'g': worksheet_write_formula_str(ws, c->row, c->col, c->formula, fmt, c->text); break;
            case '_': worksheet_write_blank(ws, c->row, c->col, fmt); break;
            default: worksheet_write_number(ws, c->row, c->col, c->number, fmt); break;
            }
            written++;
        }
    }
    lxw_error error = workbook_close(book);
    double seconds = now() - started;
    if (error) { fprintf(stderr, "write_floor: %s\n", lxw_strerror(error)); return 1; }
    printf("write floor: %zu cells in %zu sheets, %.3f s\n", written, nsheets, seconds);
    return 0;
}
