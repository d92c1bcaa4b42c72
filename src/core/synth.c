/* Signed-distance renderer. Each object maps a pixel centre to local coordinates (rotation,
 * scale, aspect), evaluates its class SDF there and turns the distance into coverage over a
 * one-pixel ramp, which is the antialiasing. Only the pixels the object can cover are
 * visited (row_spans), packed row after row into chunks: each step (coordinates, distance,
 * coverage, shading) is a loop over a chunk's pixels, and blending one over a row's, that
 * vectorises (HOT, simd.h) and computes, per pixel, exactly the operations of the
 * one-pixel-at-a-time formulas in the same order, so the images are the same bits. */
#include "synlaw/synth.h"

#include "simd.h"
#include "trig.h"
#include "synlaw/rng.h"

#include <math.h>
#include <string.h>

enum { C_DISK, C_RING, C_BOX, C_TRIANGLE, C_CROSS, C_STAR, C_HEXAGON, C_STROKE, C_CRESCENT,
       C_ELL, C_ARROW, C_DIAMOND };

static const char *const class_names[SYNTH_NCLASS] = {
    "disk", "ring", "box", "triangle", "cross", "star", "hexagon", "stroke", "crescent",
    "ell", "arrow", "diamond"};

const char *synth_class_name(int c) { return c >= 0 && c < SYNTH_NCLASS ? class_names[c] : "?"; }

enum { MAX_VERT = 12, MAX_OBJ = 4 };

typedef struct {
    int cls;
    float cx, cy, radius, cos_t, sin_t, aspect; /* pose: centre (px), radius (px), rotation */
    float q;                                    /* class-specific shape parameter in [0, 1] */
    int nvert;
    float vx[MAX_VERT], vy[MAX_VERT];           /* polygon classes: vertices, local units */
    float value;                                /* fill intensity */
    int texture;                                /* 0 plain, 1 stripes, 2 checker, 3 radial */
    float tex_freq, tex_cos, tex_sin, tex_amp;
    float light_x, light_y;                     /* shading gradient, local units */
} object;

/* ROW_MAX: pixels in a row, a multiple of 16. PACK: pixels of an object computed together,
 * the spans of its rows packed one after another (a multiple of 16, at least a row). */
enum { ROW_MAX = SYNTH_MAX_SIDE, PACK = 256 };
_Static_assert(PACK % 16 == 0 && PACK >= ROW_MAX, "PACK holds whole vectors and a row");
/* Floats after a canvas's last row: a row's vectors may run up to 15 pixels past its end. */
enum { CANVAS_SLACK = 16 };

/* Polygon distance of n points (u, v), edge by edge: per point the same sequence of
 * operations as the classic one-point loop (nearest edge point, crossing-number sign). */
static inline __attribute__((always_inline)) void
sd_polygon_row(float *restrict d, const float *restrict u, const float *restrict v, int n,
               const float *vx, const float *vy, int nv)
{
    float s[PACK];
    for (int i = 0; i < n; i++) {
        d[i] = (u[i] - vx[0]) * (u[i] - vx[0]) + (v[i] - vy[0]) * (v[i] - vy[0]);
        s[i] = 1.0f;
    }
    for (int e = 0, j = nv - 1; e < nv; j = e, e++) {
        const float ex = vx[j] - vx[e], ey = vy[j] - vy[e], ax = vx[e], ay = vy[e], by_ = vy[j];
        for (int i = 0; i < n; i++) {
            float wx = u[i] - ax, wy = v[i] - ay;
            float h = (wx * ex + wy * ey) / (ex * ex + ey * ey);
            h = h < 0 ? 0 : h > 1 ? 1 : h;
            float bx = wx - ex * h, by = wy - ey * h;
            float dd = bx * bx + by * by;
            d[i] = dd < d[i] ? dd : d[i];
            int c1 = v[i] >= ay, c2 = v[i] < by_, c3 = ex * wy > ey * wx;
            s[i] = (c1 == c2) & (c2 == c3) ? -s[i] : s[i];
        }
    }
    for (int i = 0; i < n; i++)
        d[i] = s[i] * sqrtf(d[i]);
}

static inline __attribute__((always_inline)) float sd_box(float px, float py, float hx, float hy)
{
    float dx = fabsf(px) - hx, dy = fabsf(py) - hy;
    float ox = dx > 0 ? dx : 0, oy = dy > 0 ? dy : 0;
    float in = dx > dy ? dx : dy;
    return sqrtf(ox * ox + oy * oy) + (in < 0 ? in : 0);
}

static inline __attribute__((always_inline)) float sd_segment(float px, float py, float ax, float ay,
                                                              float bx, float by)
{
    float pax = px - ax, pay = py - ay, bax = bx - ax, bay = by - ay;
    float h = (pax * bax + pay * bay) / (bax * bax + bay * bay);
    h = h < 0 ? 0 : h > 1 ? 1 : h;
    float dx = pax - bax * h, dy = pay - bay * h;
    return sqrtf(dx * dx + dy * dy);
}

/* Signed distances d (local units, object radius 1) of the class geometry at n points. */
static inline __attribute__((always_inline)) void
sd_row(float *restrict d, const float *restrict u, const float *restrict v, int n,
                       const object *o)
{
    const float q = o->q;
    switch (o->cls) {
    case C_DISK:
        for (int i = 0; i < n; i++)
            d[i] = sqrtf(u[i] * u[i] + v[i] * v[i]) - 1.0f;
        break;
    case C_RING: {
        const float t = 0.2f + 0.3f * q;
        for (int i = 0; i < n; i++)
            d[i] = fabsf(sqrtf(u[i] * u[i] + v[i] * v[i]) - (1.0f - t / 2)) - t / 2;
        break;
    }
    case C_BOX: {
        const float hy = 0.45f + 0.45f * q;
        for (int i = 0; i < n; i++)
            d[i] = sd_box(u[i], v[i], 0.9f, hy);
        break;
    }
    case C_CROSS: {
        const float w = 0.18f + 0.2f * q;
        for (int i = 0; i < n; i++) {
            float a = sd_box(u[i], v[i], 1.0f, w), b = sd_box(u[i], v[i], w, 1.0f);
            d[i] = a < b ? a : b;
        }
        break;
    }
    case C_STROKE: {
        const float r = 0.12f + 0.2f * q;
        for (int i = 0; i < n; i++)
            d[i] = sd_segment(u[i], v[i], -1.0f, 0.0f, 1.0f, 0.0f) - r;
        break;
    }
    case C_CRESCENT: {
        const float ox = 0.35f + 0.4f * q;
        for (int i = 0; i < n; i++) {
            float a = sqrtf(u[i] * u[i] + v[i] * v[i]) - 1.0f;
            float b = sqrtf((u[i] - ox) * (u[i] - ox) + v[i] * v[i]) - 0.85f;
            d[i] = a > -b ? a : -b;
        }
        break;
    }
    default: sd_polygon_row(d, u, v, n, o->vx, o->vy, o->nvert);
    }
}

static void regular(object *o, int n, float r_in, float phase)
{
    /* n-gon (r_in == 0) or n-pointed star (inner radius r_in) */
    int k = 0;
    int steps = r_in > 0 ? 2 * n : n;
    for (int i = 0; i < steps; i++) {
        float a = phase + 6.2831853f * (float)i / (float)steps;
        float r = (r_in > 0 && (i & 1)) ? r_in : 1.0f;
        o->vx[k] = r * cosf(a);
        o->vy[k] = r * sinf(a);
        k++;
    }
    o->nvert = k;
}

static void set_poly(object *o, const float *xy, int n)
{
    for (int i = 0; i < n; i++) {
        o->vx[i] = xy[2 * i];
        o->vy[i] = xy[2 * i + 1];
    }
    o->nvert = n;
}

static void build_geometry(object *o)
{
    float q = o->q;
    switch (o->cls) {
    case C_TRIANGLE: regular(o, 3, 0, -1.5707963f); break;
    case C_STAR: regular(o, 5, 0.35f + 0.25f * q, -1.5707963f); break;
    case C_HEXAGON: regular(o, 6, 0, 0); break;
    case C_DIAMOND: {
        float w = 0.45f + 0.35f * q;
        float xy[] = {0, -1, w, 0, 0, 1, -w, 0};
        set_poly(o, xy, 4);
        break;
    }
    case C_ELL: {
        float w = -1 + 0.5f + 0.3f * q; /* inner corner */
        float xy[] = {-1, -1, w, -1, w, w, 1, w, 1, 1, -1, 1};
        set_poly(o, xy, 6);
        break;
    }
    case C_ARROW: {
        float s = 0.2f + 0.15f * q, hx = 0.1f - 0.3f * q;
        float xy[] = {-1, -s, hx, -s, hx, -0.8f, 1, 0, hx, 0.8f, hx, s, -1, s};
        set_poly(o, xy, 7);
        break;
    }
    default: o->nvert = 0;
    }
}

/* A bound (1% over) of the distance from the centre, in local units, of any point whose
 * class distance is below a small epsilon past the surface: the shape's own radius, as
 * every distance here is exact outside the shape or, for the crescent, at least that of
 * the unit disk containing it. A pixel with coverage > 0 lies within this times the radius
 * times the larger aspect, plus half a pixel times 1 / 0.7 (the smallest aspect) in canvas
 * units; draw_object adds 0.75 pixel and one more for the pixel grid. */
static float local_extent(const object *o)
{
    float q = o->q, r = 1.0f;
    switch (o->cls) {
    case C_DISK:
    case C_RING:
    case C_CRESCENT: r = 1.0f; break;
    case C_BOX: {
        float hy = 0.45f + 0.45f * q;
        r = sqrtf(0.81f + hy * hy);
        break;
    }
    case C_CROSS: {
        float w = 0.18f + 0.2f * q;
        r = sqrtf(1.0f + w * w);
        break;
    }
    case C_STROKE: r = 1.0f + (0.12f + 0.2f * q); break;
    default:
        r = 0.0f;
        for (int i = 0; i < o->nvert; i++) {
            float d = sqrtf(o->vx[i] * o->vx[i] + o->vy[i] * o->vy[i]);
            r = d > r ? d : r;
        }
    }
    return r * 1.01f;
}

/* The target grid: its shape, the canvas units per pixel (sx, sy; 1 at 28 x 28) and target
 * pixels per canvas unit of distance (inv_s). */
typedef struct {
    int rows, cols, channels;
    float sx, sy, inv_s;
} grid;

/* Half-extents along the local axes of a box that contains the class's shape. */
static void local_box(const object *o, double *hx, double *hy)
{
    const float q = o->q;
    switch (o->cls) {
    case C_BOX:
        *hx = 0.9f;
        *hy = 0.45f + 0.45f * q;
        break;
    case C_STROKE:
        *hx = 1.0 + (0.12f + 0.2f * q);
        *hy = 0.12f + 0.2f * q;
        break;
    default: *hx = *hy = 1.0; break;
    }
}

/* The vertices, in order, of each polygon class's convex hull, ended by -1: all of them for
 * the convex ones, the outer points of the star, and the ell and the arrow without their
 * inner corners (each of those lies inside the hull of the others for every q); none (-1
 * first) for the other classes. */
enum { MAX_HALF = 8 };
static const signed char hull_index[SYNTH_NCLASS][MAX_HALF + 1] = {
    [C_DISK] = {-1},     [C_RING] = {-1},
    [C_BOX] = {-1},      [C_TRIANGLE] = {0, 1, 2, -1},
    [C_CROSS] = {-1},    [C_STAR] = {0, 2, 4, 6, 8, -1},
    [C_HEXAGON] = {0, 1, 2, 3, 4, 5, -1},
    [C_STROKE] = {-1},   [C_CRESCENT] = {-1},
    [C_ELL] = {0, 1, 3, 4, 5, -1},
    [C_ARROW] = {0, 2, 3, 4, 6, -1},
    [C_DIAMOND] = {0, 1, 2, 3, -1},
};

/* Where on a row an object can cover pixels. A pixel has coverage > 0 only where its class
 * distance d is below dmax, half a target pixel in local units; every class distance is at
 * least the distance to the shape (exact outside it; for the crescent, that of the unit disk
 * holding it), so such a pixel's local point (u, v) lies within dmax of a convex region
 * that holds the shape, and within dmax of its extent disk. The region is a polygon: the
 * hull of a polygon class's vertices, the octagon around the cross, else the class's local
 * box; each of its edges, moved out by dmax with 1% to spare, is a half-plane of local
 * points. Each half-plane and the disk are solved for the canvas offset dx of a row's
 * points, in double: the rounding of the float coordinates and distances (a few units in
 * the 7th digit) is far below the 1%. */
typedef struct {
    /* per half-plane, for a row at offset dy: dx <= wu + ku dy (its upper bound; without one,
     * ku = 0 and wu = 1e300) and dx >= wl + kl dy (lower; -1e300) */
    double ku[MAX_HALF], wu[MAX_HALF], kl[MAX_HALF], wl[MAX_HALF];
    int nh; /* half-planes used */
    /* the disk: dx within sqrt(q2 dy^2 + q0) of -q1 dy */
    double q2, q1, q0;
} span_geom;

/* Half-plane j: nu u + nv v <= c (nu, nv a unit normal, outward) moved out by dmax, with
 * u = a[0] dx + b[0] dy and v = a[1] dx + b[1] dy: A dx <= C - B dy. Where A is (nearly) 0,
 * the edge is (nearly) along the rows; A is then taken as 1e-12. A row with a pixel that can
 * be covered has C - B dy >= 1e-3 (the margin) there, so its bound is at least 1e9 and cuts
 * nothing; other rows may be cut anywhere, as none of their pixels can be covered. */
static void half_plane(span_geom *sg, int j, double nu, double nv, double c, double dmax,
                       const double a[2], const double b[2])
{
    const double C = (c + dmax) * 1.01 + 1e-3, B = nu * b[0] + nv * b[1];
    double A = nu * a[0] + nv * a[1];
    if (fabs(A) < 1e-12)
        A = 1e-12;
    const double inv = 1.0 / A;
    if (A > 0) {
        sg->ku[j] = -B * inv;
        sg->wu[j] = C * inv;
    } else {
        sg->kl[j] = -B * inv;
        sg->wl[j] = C * inv;
    }
}

/* The edge from (x0, y0) to (x1, y1) of a convex polygon around the origin as half-plane j. */
static void edge_plane(span_geom *sg, int j, double x0, double y0, double x1, double y1, double dmax,
                       const double a[2], const double b[2])
{
    const double ex = x1 - x0, ey = y1 - y0, inv_len = 1.0 / sqrt(ex * ex + ey * ey);
    double nu = ey * inv_len, nv = -ex * inv_len, c = nu * x0 + nv * y0;
    if (c < 0) { /* the normal pointed at the origin, inside */
        nu = -nu;
        nv = -nv;
        c = -c;
    }
    half_plane(sg, j, nu, nv, c, dmax, a, b);
}

static void span_setup(span_geom *sg, const object *o, const grid *g, float extent)
{
    const double ku = 1.0 / ((double)o->radius * o->aspect), kv = 1.0 / o->radius;
    const double ppu = (double)o->radius * (o->aspect < 1 ? o->aspect : 1.0f);
    const double dmax = 0.5 / (ppu * g->inv_s);
    /* u = a[0] dx + b[0] dy, v = a[1] dx + b[1] dy */
    const double a[2] = {ku * o->cos_t, -kv * o->sin_t}, b[2] = {ku * o->sin_t, kv * o->cos_t};
    for (int j = 0; j < MAX_HALF; j++) {
        sg->ku[j] = sg->kl[j] = 0;
        sg->wu[j] = 1e300;
        sg->wl[j] = -1e300;
    }
    const signed char *hull = hull_index[o->cls];
    if (hull[0] >= 0) {
        int nh = 0;
        while (nh < MAX_HALF && hull[nh] >= 0)
            nh++;
        for (int j = 0; j < nh; j++) {
            const int i0 = hull[j], i1 = hull[(j + 1) % nh];
            edge_plane(sg, j, o->vx[i0], o->vy[i0], o->vx[i1], o->vy[i1], dmax, a, b);
        }
        sg->nh = nh;
    } else if (o->cls == C_CROSS) {
        /* the octagon around the two bars: |u| <= 1, |v| <= 1 and the corners cut from
         * (1, w) to (w, 1) */
        const double w = 0.18f + 0.2f * o->q, r2 = sqrt(0.5);
        half_plane(sg, 0, 1, 0, 1, dmax, a, b);
        half_plane(sg, 1, -1, 0, 1, dmax, a, b);
        half_plane(sg, 2, 0, 1, 1, dmax, a, b);
        half_plane(sg, 3, 0, -1, 1, dmax, a, b);
        half_plane(sg, 4, r2, r2, (1 + w) * r2, dmax, a, b);
        half_plane(sg, 5, -r2, r2, (1 + w) * r2, dmax, a, b);
        half_plane(sg, 6, r2, -r2, (1 + w) * r2, dmax, a, b);
        half_plane(sg, 7, -r2, -r2, (1 + w) * r2, dmax, a, b);
        sg->nh = 8;
    } else {
        double hx, hy;
        local_box(o, &hx, &hy);
        half_plane(sg, 0, 1, 0, hx, dmax, a, b);
        half_plane(sg, 1, -1, 0, hx, dmax, a, b);
        half_plane(sg, 2, 0, 1, hy, dmax, a, b);
        half_plane(sg, 3, 0, -1, hy, dmax, a, b);
        sg->nh = 4;
    }
    /* (a0 t + b0 dy)^2 + (a1 t + b1 dy)^2 <= rr^2, solved for t */
    const double rr = (extent + dmax) * 1.01 + 1e-3; /* extent (local_extent): already 1% over */
    const double A = a[0] * a[0] + a[1] * a[1], B = a[0] * b[0] + a[1] * b[1];
    const double C = b[0] * b[0] + b[1] * b[1];
    sg->q1 = B / A;
    sg->q2 = (B * B - A * C) / (A * A);
    sg->q0 = rr * rr / A;
}

/* For rows y0 .. y0 + 8 nblk - 1, the pixels xa[j] .. xb[j] of row y0 + j, within x0 .. x1,
 * that o can cover (xa[j] > xb[j]: none). Loops over the rows that vectorise in every clone:
 * selects of values computed on every lane, and truncations instead of floor and ceil (the
 * baseline has no vector floor); rows are taken in blocks of 8, so that they have no scalar
 * remainder: the rows past the object's box are computed and not used. */
static inline __attribute__((always_inline)) void
row_spans(int *restrict xa, int *restrict xb, const span_geom *sg, const object *o, const grid *g,
          int y0, int nblk, int x0, int x1)
{
    const double sy = g->sy, cy = o->cy, cx = o->cx, inv_sx = 1.0 / g->sx;
    const double q0 = sg->q0, q1 = sg->q1, q2 = sg->q2;
    const int nrow = 8 * nblk;
    /* per row: its offset, the bounds of dx, and 1e300 where the disk misses it */
    double dy[SYNTH_MAX_SIDE + 8], lo[SYNTH_MAX_SIDE + 8], hi[SYNTH_MAX_SIDE + 8], miss[SYNTH_MAX_SIDE + 8];
    for (int j = 0; j < nrow; j++) {
        dy[j] = ((double)(y0 + j) + 0.5) * sy - cy;
        const double disc = q2 * dy[j] * dy[j] + q0, root = sqrt(disc > 0 ? disc : 0);
        lo[j] = -q1 * dy[j] - root;
        hi[j] = -q1 * dy[j] + root;
        miss[j] = disc < 0 ? 1e300 : 0.0;
    }
    for (int h = 0; h < sg->nh; h++) {
        const double ku = sg->ku[h], wu = sg->wu[h], kl = sg->kl[h], wl = sg->wl[h];
        for (int j = 0; j < nrow; j++) {
            const double bu = wu + ku * dy[j], bl = wl + kl * dy[j];
            hi[j] = bu < hi[j] ? bu : hi[j];
            lo[j] = bl > lo[j] ? bl : lo[j];
        }
    }
    /* Pixel x has its centre at dx = (x + 0.5) sx - cx: xa is the first at or after lo, the
     * ceiling of ta, and xb the last at or before hi, the floor of tb, each clamped to the
     * box (an empty row: ta > tb, so xa > xb). With ta and tb clamped first, every value is
     * within -1 .. SYNTH_MAX_SIDE, and a ceiling or floor is a truncation of a positive
     * number, offset by OFF (a rounding of the offset could only widen the span, by one
     * pixel, where t is within 1e-14 of a whole number). */
    const double a_lo = x0, a_hi = x1 + 1, b_lo = x0 - 1, b_hi = x1, OFF = 2 * SYNTH_MAX_SIDE;
    for (int j = 0; j < nrow; j++) {
        double ta = (lo[j] + cx) * inv_sx - 0.5 + miss[j], tb = (hi[j] + cx) * inv_sx - 0.5 - miss[j];
        ta = ta < a_lo ? a_lo : ta;
        ta = ta > a_hi ? a_hi : ta;
        tb = tb < b_lo ? b_lo : tb;
        tb = tb > b_hi ? b_hi : tb;
        xa[j] = (int)OFF - (int)(OFF - ta);
        xb[j] = (int)(tb + OFF) - (int)OFF;
    }
}

/* (int)floorf(x) for |x| < 2^31, in operations that vectorise (GCC leaves a loop with floorf
 * and a conversion scalar): truncate, then step down where that rounded up. */
static inline __attribute__((always_inline)) int floor_int(float x)
{
    int i = (int)x;
    return i - (x < (float)i);
}

static const int lane_index[ROW_MAX] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
_Static_assert(ROW_MAX == 64, "lane_index lists ROW_MAX lanes");

/* The local coordinates (u, v) of m pixels of row y from pixel xa on: from the canvas
 * offsets (dx, dy) of their centres, rotated, then scaled by the radius and the aspect. */
static inline __attribute__((always_inline)) void
local_coords(float *restrict u, float *restrict v, int xa, int y, int m, const object *o, const grid *g)
{
    const float inv_r = 1.0f / o->radius, inv_a = 1.0f / o->aspect, ct = o->cos_t, st = o->sin_t;
    const float sx = g->sx, ocx = o->cx, dy = ((float)y + 0.5f) * g->sy - o->cy;
    for (int i = 0; i < m; i++) {
        const float dx = ((float)(xa + i) + 0.5f) * sx - ocx;
        u[i] = (dx * ct + dy * st) * inv_r * inv_a;
        v[i] = (-dx * st + dy * ct) * inv_r;
    }
}

/* Coverage of n packed pixels by o, from their local coordinates (u, v): the class distance
 * in target pixels and the coverage 0.5 - d (not clamped; <= 0 outside). */
static inline __attribute__((always_inline)) void
coverage_packed(float *restrict cov, const float *restrict u, const float *restrict v, int n,
                const object *o, const grid *g)
{
    const float px_per_unit = o->radius * (o->aspect < 1 ? o->aspect : 1.0f), inv_s = g->inv_s;
    sd_row(cov, u, v, n, o);
    for (int i = 0; i < n; i++)
        cov[i] = 0.5f - cov[i] * px_per_unit * inv_s;
}

/* The shaded value (texture, light; clamped to [0, 1]) and the clamped coverage of each
 * covered pixel of n (a chunk's); 0 and 0 elsewhere. Textures: 1 stripes, 2 checker, 3 radial;
 * 1 and 3 evaluate sinf / cosf with the C library's bits (trig.h): in vectors, or per
 * covered pixel. */
static inline __attribute__((always_inline)) void
shade_row(float *restrict val, float *restrict cov, const float *restrict u,
                          const float *restrict v, int n, const object *o)
{
    const float amp = o->tex_amp, fr = o->tex_freq, tc = o->tex_cos, ts = o->tex_sin;
    switch (o->texture) {
    case 0:
        for (int i = 0; i < n; i++)
            val[i] = 1.0f;
        break;
    case 2:
        for (int i = 0; i < n; i++) {
            float a = u[i] * tc + v[i] * ts, b = -u[i] * ts + v[i] * tc;
            int ia = floor_int(a * fr * 0.5f), ib = floor_int(b * fr * 0.5f);
            float t = ((ia + ib) & 1) ? 1.0f : 0.0f;
            val[i] = 1.0f - amp + amp * t;
        }
        break;
    default: {
        /* stripes: sinf of fr (u tc + v ts); radial: cosf of fr |(u, v)|. The arguments in a
         * loop that vectorises, then sinf or cosf of them in vector registers where the C
         * library's bits allow it (trig.h), of the covered pixels only where they do not */
        float arg[PACK], t[PACK];
        if (o->texture == 1)
            for (int i = 0; i < n; i++)
                arg[i] = fr * (u[i] * tc + v[i] * ts);
        else
            for (int i = 0; i < n; i++)
                arg[i] = fr * sqrtf(u[i] * u[i] + v[i] * v[i]);
        trig_row(t, arg, cov, n, o->texture == 3);
        /* the pixels not covered get a value too, unused: the last loop gives them 0 */
        for (int i = 0; i < n; i++)
            val[i] = 1.0f - amp + amp * (0.5f + 0.5f * t[i]);
    }
    }
    const float value = o->value, lx = o->light_x, ly = o->light_y;
    for (int i = 0; i < n; i++) {
        float c = cov[i] <= 0 ? 0 : cov[i] > 1 ? 1 : cov[i];
        float s = value * val[i] * (1.0f + lx * u[i] + ly * v[i]);
        s = s < 0 ? 0 : s > 1 ? 1 : s;
        val[i] = c > 0 ? s : 0;
        cov[i] = c;
    }
}

/* img = img (1 - c) + val tint c where c > 0 (tint 1 for grey: multiplying by 1 is exact), for
 * the n pixels of a row; m, n rounded up to whole vectors, are read and written (val and cov
 * have that many, img the canvas's slack), and those past n are left as they are.
 * lane_index[i] is i: a test of the counter itself would have GCC split the loop at n, into
 * vectors and a scalar remainder. */
static inline __attribute__((always_inline)) void
blend_row(float *restrict img, const float *restrict val, const float *restrict cov, int n, int m,
          float tint)
{
    for (int i = 0; i < m; i++) {
        /* one select of values computed on every lane: chained or under a test, GCC keeps
         * the baseline's loop scalar */
        const float c = cov[i], im = img[i], out = im * (1 - c) + val[i] * tint * c;
        img[i] = (lane_index[i] < n) & (c > 0) ? out : im;
    }
}

/* Where a pixel centre is covered (cov >= 0.5): the owner to id; n pixels of a row, m read
 * and written as in blend_row. */
static inline __attribute__((always_inline)) void
mark_row(int *restrict owner, const float *restrict cov, int n, int m, int id)
{
    for (int i = 0; i < m; i++)
        owner[i] = (lane_index[i] < n) & (cov[i] >= 0.5f) ? id : owner[i];
}

/* The packed pixels of one chunk: their local coordinates, and the rows they come from (the
 * k-th row's n pixels start at packed pixel at and canvas pixel p). */
typedef struct {
    float u[PACK + 16], v[PACK + 16];
    int nrow, at[ROW_MAX], n[ROW_MAX];
    size_t p[ROW_MAX];
} chunk;

/* Draw a chunk's pixels: coverage and shade over all of them in whole vectors, then blend
 * and mark row by row. */
static inline __attribute__((always_inline)) void
draw_chunk(chunk *ck, int k, const object *o, const grid *g, float *img, const float *tint,
           int *owner, int id)
{
    float cov[PACK + 16], val[PACK + 16];
    const int kk = (k + 15) & ~15;
    /* the lanes past the last pixel: that pixel again (a texture's argument far larger would
     * have trig_row ask the C library) */
    for (int i = k; i < kk; i++) {
        ck->u[i] = ck->u[k - 1];
        ck->v[i] = ck->v[k - 1];
    }
    coverage_packed(cov, ck->u, ck->v, kk, o, g);
    shade_row(val, cov, ck->u, ck->v, kk, o);
    /* blend_row and mark_row read up to 15 past kk and use none of it */
    for (int i = kk; i < kk + 16; i++)
        cov[i] = val[i] = 0.0f;
    const size_t plane = (size_t)g->rows * g->cols;
    for (int r = 0; r < ck->nrow; r++) {
        const int at = ck->at[r], n = ck->n[r], m = (n + 15) & ~15;
        const size_t p = ck->p[r];
        if (!tint)
            blend_row(img + p, val + at, cov + at, n, m, 1.0f);
        else
            for (int c = 0; c < g->channels; c++)
                blend_row(img + c * plane + p, val + at, cov + at, n, m, tint[c]);
        if (owner)
            mark_row(owner + p, cov + at, n, m, id);
    }
    ck->nrow = 0;
}

/* Draw o into the channel planes of img (tint: the object's colour per channel, NULL for
 * grey), marking owner (unless NULL) with id where it covers a pixel centre. The pixels o
 * can cover (row_spans) are packed, row after row, into chunks, and each step is a loop
 * over a chunk's pixels, so that the vectors are full and the steps run once per chunk,
 * not once per row; every pixel gets the operations of the one-pixel-at-a-time formulas in
 * the same order, so the images are the same bits. One clone per ISA with the steps
 * inlined. */
HOT static void draw_object(const object *o, const grid *g, float *img, const float *tint, int *owner,
                            int id)
{
    float ext = o->radius * (o->aspect > 1 ? o->aspect : 1.0f) * 1.45f;
    float ex = ext / g->sx + 1.5f, ey = ext / g->sy + 1.5f, cx = o->cx / g->sx, cy = o->cy / g->sy;
    /* The box above is the one synlaw has always visited. Within it, only pixels inside the
     * class's own extent can be covered (see local_extent): the smaller of the two is visited,
     * which leaves out only pixels of coverage 0, so the image is the same. */
    const float extent = local_extent(o);
    float tight = extent * o->radius * (o->aspect > 1 ? o->aspect : 1.0f) + 0.75f / g->inv_s;
    if (tight / g->sx + 1.0f < ex)
        ex = tight / g->sx + 1.0f;
    if (tight / g->sy + 1.0f < ey)
        ey = tight / g->sy + 1.0f;
    int x0 = (int)floorf(cx - ex), x1 = (int)ceilf(cx + ex);
    int y0 = (int)floorf(cy - ey), y1 = (int)ceilf(cy + ey);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > g->cols - 1) x1 = g->cols - 1;
    if (y1 > g->rows - 1) y1 = g->rows - 1;
    if (x1 < x0)
        return;
    span_geom sg;
    span_setup(&sg, o, g, extent);
    int span_a[SYNTH_MAX_SIDE + 8], span_b[SYNTH_MAX_SIDE + 8];
    row_spans(span_a, span_b, &sg, o, g, y0, (y1 - y0 + 8) / 8, x0, x1);
    chunk ck;
    ck.nrow = 0;
    int k = 0; /* pixels packed */
    for (int y = y0; y <= y1; y++) {
        const int xa = span_a[y - y0], n = span_b[y - y0] - xa + 1, m = (n + 15) & ~15;
        if (n <= 0)
            continue;
        if (k + n > PACK) {
            draw_chunk(&ck, k, o, g, img, tint, owner, id);
            k = 0;
        }
        /* whole vectors: the lanes past n are overwritten by the next row, or by draw_chunk */
        local_coords(ck.u + k, ck.v + k, xa, y, m, o, g);
        ck.at[ck.nrow] = k;
        ck.n[ck.nrow] = n;
        ck.p[ck.nrow] = (size_t)y * g->cols + xa;
        ck.nrow++;
        k += n;
    }
    if (ck.nrow)
        draw_chunk(&ck, k, o, g, img, tint, owner, id);
}

static void make_object(object *o, rng_t *r, int level, int nobj)
{
    memset(o, 0, sizeof *o);
    o->cls = (int)rng_below(r, SYNTH_NCLASS);
    o->cx = o->cy = SYNTH_SIDE / 2.0f;
    o->radius = 9.0f;
    o->cos_t = 1.0f;
    o->aspect = 1.0f;
    o->q = 0.5f;
    o->value = 1.0f;
    if (level >= 2) {
        float t = (float)rng_range(r, 0, 6.2831853);
        o->cos_t = cosf(t);
        o->sin_t = sinf(t);
        o->radius = (float)rng_range(r, 6.0, 11.0);
        o->aspect = (float)rng_range(r, 0.7, 1.3);
        o->q = (float)rng_uniform(r);
        o->value = (float)rng_range(r, 0.55, 1.0);
        float shift = 4.0f;
        o->cx += (float)rng_range(r, -shift, shift);
        o->cy += (float)rng_range(r, -shift, shift);
    }
    if (level >= 3) {
        o->texture = (int)rng_below(r, 4);
        o->tex_freq = (float)rng_range(r, 4.0, 12.0);
        float ta = (float)rng_range(r, 0, 3.14159265);
        o->tex_cos = cosf(ta);
        o->tex_sin = sinf(ta);
        o->tex_amp = (float)rng_range(r, 0.3, 0.8);
        float la = (float)rng_range(r, 0, 6.2831853), ls = (float)rng_range(r, 0.0, 0.45);
        o->light_x = ls * cosf(la);
        o->light_y = ls * sinf(la);
    }
    if (level >= 4) {
        o->radius = (float)rng_range(r, 4.0, nobj > 2 ? 8.0 : 10.0);
        o->cx = (float)rng_range(r, 5.0, SYNTH_SIDE - 5.0);
        o->cy = (float)rng_range(r, 5.0, SYNTH_SIDE - 5.0);
    }
    build_geometry(o);
}

/* The 1-2-1 blur of one plane, rows then columns, the edges repeated. The first and last
 * pixel of a row apart (where the neighbour is the pixel itself), each row is one loop that
 * vectorises; the per-pixel sums are the same. */
HOT static void blur3(float *restrict img, int rows, int cols)
{
    float tmp[SYNTH_MAX_PIXELS];
    for (int y = 0; y < rows; y++) {
        const float *restrict row = img + (size_t)y * cols;
        float *restrict t = tmp + (size_t)y * cols;
        t[0] = 0.25f * row[0] + 0.5f * row[0] + 0.25f * row[1];
        for (int x = 1; x < cols - 1; x++)
            t[x] = 0.25f * row[x - 1] + 0.5f * row[x] + 0.25f * row[x + 1];
        t[cols - 1] = 0.25f * row[cols - 2] + 0.5f * row[cols - 1] + 0.25f * row[cols - 1];
    }
    for (int y = 0; y < rows; y++) {
        int yu = y > 0 ? y - 1 : y, yd = y < rows - 1 ? y + 1 : y;
        const float *restrict tu = tmp + (size_t)yu * cols, *restrict ty = tmp + (size_t)y * cols,
                              *restrict td = tmp + (size_t)yd * cols;
        float *restrict out = img + (size_t)y * cols;
        for (int x = 0; x < cols; x++)
            out[x] = 0.25f * tu[x] + 0.5f * ty[x] + 0.25f * td[x];
    }
}

/* A random colour from the colour stream: channels in [0.3, 1], the largest 1 (so that an
 * object's intensity is its brightest channel). */
static void draw_tint(float *tint, rng_t *r)
{
    float top = 0.0f;
    for (int c = 0; c < 3; c++) {
        tint[c] = (float)rng_range(r, 0.3, 1.0);
        top = tint[c] > top ? tint[c] : top;
    }
    for (int c = 0; c < 3; c++)
        tint[c] /= top;
}

/* Background of level 3 and up in one channel plane: a dim linear gradient, times the
 * channel's tint (1 for grey: exact). Levels 1 and 2 keep the zeros of the memset. Each row
 * is computed in whole vectors of 16: the pixels past its end are the next row's first
 * ones, computed again with that row, or the canvas's slack after the last plane (the
 * planes are drawn in order). */
HOT static void background_plane(float *restrict img, const grid *g, float bg, float bgx, float bgy,
                                 float tint)
{
    const float sx = g->sx;
    const int m = (g->cols + 15) & ~15;
    for (int y = 0; y < g->rows; y++) {
        /* the canvas coordinates of the pixel centre, less a half (x itself at 28) */
        const float yc = ((float)y + 0.5f) * g->sy - 0.5f;
        float *row = img + (size_t)y * g->cols;
        for (int x = 0; x < m; x++) {
            float xc = ((float)x + 0.5f) * sx - 0.5f;
            float v = bg + bgx * (xc - 13.5f) + bgy * (yc - 13.5f);
            v = v < 0 ? 0 : v;
            row[x] = v * tint;
        }
    }
}

/* The foreground mask (1 where an object covers the pixel centre, as owner records) and
 * the pixels each of the MAX_OBJ objects owns, in one pass over owner. */
_Static_assert(MAX_OBJ == 4, "owner_mask_counts counts four owners");
HOT static void owner_mask_counts(float *restrict mask, int *restrict count, const int *restrict owner,
                                  size_t n)
{
    int c0 = 0, c1 = 0, c2 = 0, c3 = 0;
    for (size_t p = 0; p < n; p++) {
        const int o = owner[p];
        mask[p] = o >= 0 ? 1.0f : 0.0f;
        c0 += o == 0;
        c1 += o == 1;
        c2 += o == 2;
        c3 += o == 3;
    }
    count[0] = c0;
    count[1] = c1;
    count[2] = c2;
    count[3] = c3;
}

/* Pixel noise: the sum of the four 16-bit uniforms of one 64-bit word per pixel (Irwin-Hall),
 * centred and scaled to unit variance; close to normal for this purpose and a tenth of the
 * cost of Box-Muller per pixel. The sums of 16-bit integers are exact in float. */
HOT static void add_noise(float *restrict img, const uint64_t *restrict words, size_t n, float sigma)
{
    const float scale = 1.7320508f / 65536.0f; /* sqrt(12 / 4) per unit of 2^16 */
    for (size_t p = 0; p < n; p++) {
        uint64_t u = words[p];
        /* the four fields summed as integers: below 2^18, exact in float, so the same as
         * summing their floats (in any order) */
        float sum = (float)(int32_t)((u & 0xffff) + ((u >> 16) & 0xffff) + ((u >> 32) & 0xffff) + (u >> 48));
        float v = img[p] + sigma * (sum - 2.0f * 65536.0f) * scale;
        img[p] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
}

int synth_shape_check(const synth_shape *s)
{
    return s->rows >= SYNTH_MIN_SIDE && s->rows <= SYNTH_MAX_SIDE && s->cols >= SYNTH_MIN_SIDE &&
                   s->cols <= SYNTH_MAX_SIDE && (s->channels == 1 || s->channels == 3)
               ? 0
               : -1;
}

void synth_render(synth_sample *out, uint64_t seed, uint64_t index, int complexity)
{
    const synth_shape grey28 = {SYNTH_SIDE, SYNTH_SIDE, 1};
    synth_render_shape(out, &grey28, seed, index, complexity);
}

/* synth_render_shape up to the pixel noise: 1 where the image gets noise (level 4), with *r
 * the stream of its words and *sigma its scale; else 0, the image done. */
static int render_scene(synth_sample *out, const synth_shape *shape, uint64_t seed, uint64_t index,
                        int complexity, rng_t *noise, float *noise_sigma)
{
    rng_t r, col;
    uint64_t w[2] = {index, (uint64_t)complexity};
    rng_seed(&r, rng_hash(seed, w, 2));
    int level = complexity < 1 ? 1 : complexity > SYNTH_MAX_COMPLEXITY ? SYNTH_MAX_COMPLEXITY : complexity;
    const int R = shape->rows, W = shape->cols, C = shape->channels;
    const size_t plane = (size_t)R * W;
    /* square grids scale distances by one factor; others by the mean of the two */
    grid g = {R, W, C, (float)SYNTH_SIDE / (float)W, (float)SYNTH_SIDE / (float)R, 1.0f};
    if (R != SYNTH_SIDE || W != SYNTH_SIDE)
        g.inv_s = 2.0f / (g.sx + g.sy);
    /* colour: tints from a stream of their own, so that the grey draws stay the same */
    int colour = C == 3 && level >= 2;
    float bg_tint[3] = {1, 1, 1}, tint[3];
    if (colour) {
        uint64_t cw[3] = {index, (uint64_t)complexity, 0xc0107u};
        rng_seed(&col, rng_hash(seed, cw, 3));
        draw_tint(bg_tint, &col);
    }

    /* The scene is drawn on canvases with CANVAS_SLACK floats after the last plane, so that
     * draw_object can run its rows in whole vectors, then copied into out; the mask is
     * that of the owners (an object covers a pixel centre where it marks its owner). */
    float img[SYNTH_MAX_CHANNELS * SYNTH_MAX_PIXELS + CANVAS_SLACK];
    int owner[SYNTH_MAX_PIXELS + CANVAS_SLACK]; /* the object seen at each pixel centre, or -1 */
    /* zeros (levels 1 and 2), or a background that fills every plane (levels 3 and up):
     * then only the slack is cleared */
    if (level < 3)
        memset(img, 0, sizeof(float) * (plane * (size_t)C + CANVAS_SLACK));
    else
        memset(img + plane * (size_t)C, 0, sizeof(float) * CANVAS_SLACK);
    for (size_t p = 0; p < plane + CANVAS_SLACK; p++)
        owner[p] = -1;
    memset(out->present, 0, sizeof out->present);
    out->nobj = 0;
    float bg = 0.0f, bgx = 0.0f, bgy = 0.0f;
    if (level >= 3) {
        bg = (float)rng_range(&r, 0.0, 0.3);
        bgx = (float)rng_range(&r, -0.006, 0.006);
        bgy = (float)rng_range(&r, -0.006, 0.006);
    }
    if (level >= 3)
        for (int c = 0; c < C; c++)
            background_plane(img + c * plane, &g, bg, bgx, bgy, C == 1 ? 1.0f : bg_tint[c]);

    if (level >= 4) { /* clutter: thin dim strokes behind the objects */
        int nclutter = (int)rng_below(&r, 4);
        for (int k = 0; k < nclutter; k++) {
            object o;
            memset(&o, 0, sizeof o);
            o.cls = C_STROKE;
            o.q = 0.0f;
            o.radius = (float)rng_range(&r, 4.0, 12.0);
            o.aspect = 1.0f;
            float t = (float)rng_range(&r, 0, 6.2831853);
            o.cos_t = cosf(t);
            o.sin_t = sinf(t);
            o.cx = (float)rng_range(&r, 0, SYNTH_SIDE);
            o.cy = (float)rng_range(&r, 0, SYNTH_SIDE);
            o.value = (float)rng_range(&r, 0.15, 0.5);
            if (colour)
                draw_tint(tint, &col);
            draw_object(&o, &g, img, colour ? tint : C == 3 ? bg_tint : NULL, NULL, 0);
        }
    }

    int nobj = level >= 4 ? 2 + (int)rng_below(&r, 3) : 1;
    object objs[MAX_OBJ];
    for (int k = 0; k < nobj; k++) {
        make_object(&objs[k], &r, level, nobj);
        if (colour)
            draw_tint(tint, &col);
        draw_object(&objs[k], &g, img, colour ? tint : C == 3 ? bg_tint : NULL, owner, k);
    }
    memcpy(out->image, img, sizeof(float) * plane * (size_t)C);
    int visible[MAX_OBJ];
    owner_mask_counts(out->mask, visible, owner, plane);
    out->nobj = nobj;
    /* 3 pixels of 784, in proportion to the area */
    int min_visible = (int)((3 * plane + SYNTH_PIXELS / 2) / SYNTH_PIXELS);
    if (min_visible < 1)
        min_visible = 1;
    for (int k = 0; k < nobj; k++)
        if (visible[k] >= min_visible)
            out->present[objs[k].cls] = 1.0f;

    if (level >= 4) {
        if (rng_uniform(&r) < 0.5)
            for (int c = 0; c < C; c++)
                blur3(out->image + c * plane, R, W);
        /* pixel noise (add_noise): a word per pixel of each channel, plane after plane */
        *noise_sigma = (float)rng_range(&r, 0.0, 0.08);
        *noise = r;
        return 1;
    }
    return 0;
}

void synth_render_shape(synth_sample *out, const synth_shape *shape, uint64_t seed, uint64_t index,
                        int complexity)
{
    rng_t r;
    float sigma;
    if (render_scene(out, shape, seed, index, complexity, &r, &sigma)) {
        const size_t plane = (size_t)shape->rows * shape->cols;
        uint64_t words[SYNTH_MAX_PIXELS];
        for (int c = 0; c < shape->channels; c++) {
            rng_fill(&r, words, plane);
            add_noise(out->image + c * plane, words, plane, sigma);
        }
    }
}

/* Steps of the noise streams generated at a time: 16 KB of words, within the L1 cache. */
enum { NOISE_CHUNK = 256 };
_Static_assert(SYNTH_BATCH == RNG_LANES, "a batch's images take the generator's lanes");

void synth_render_batch(synth_sample *out, const synth_shape *shape, uint64_t seed, const uint64_t *index,
                        int count, int complexity)
{
    const size_t n = (size_t)shape->rows * shape->cols * (size_t)shape->channels;
    for (int b = 0; b < count; b += RNG_LANES) {
        const int m = count - b < RNG_LANES ? count - b : RNG_LANES;
        if (m < rng_lanes_min()) { /* the lanes cost about as much for 1 image as for 8 */
            for (int k = 0; k < m; k++)
                synth_render_shape(&out[b + k], shape, seed, index[b + k], complexity);
            continue;
        }
        rng_t r[RNG_LANES];
        float sigma[RNG_LANES];
        int noisy = 0;
        for (int k = 0; k < m; k++)
            noisy = render_scene(&out[b + k], shape, seed, index[b + k], complexity, &r[k], &sigma[k]);
        if (!noisy) /* the same level for all: noise for all or none */
            continue;
        /* the images' noise words, NOISE_CHUNK of each at a time; the channel planes follow
         * one another in the image as their words do in the stream */
        uint64_t words[NOISE_CHUNK * RNG_LANES];
        for (size_t p0 = 0; p0 < n; p0 += NOISE_CHUNK) {
            const size_t len = n - p0 < NOISE_CHUNK ? n - p0 : NOISE_CHUNK;
            rng_fill_lanes(r, m, words, len);
            for (int k = 0; k < m; k++)
                add_noise(out[b + k].image + p0, words + (size_t)k * len, len, sigma[k]);
        }
    }
}
