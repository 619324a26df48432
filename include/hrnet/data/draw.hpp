// Drawing on an Image: the shapes that skeleton overlays and the synthetic pose dataset need.
//
// Coordinates are continuous image coordinates with pixel (x, y) covering [x, x+1) x [y, y+1), the
// convention of COCO keypoints and polygons (a keypoint at (x, y) lies on pixel (floor x, floor y)).
// A shape paints exactly the pixels whose centre (x + 0.5, y + 0.5) lies inside it (boundary
// included; polygons use the even-odd rule with half-open scanline crossings): no anti-aliasing,
// so the painted set is exact and testable. Shapes are clipped at the borders; coordinates may lie
// anywhere (even far outside), but must be finite (ValueError otherwise).
//
// alpha in [0, 1] blends: out = round(src * alpha + dst * (1 - alpha)); alpha 1 writes the colour.
#pragma once
#include <array>
#include <cstdint>
#include <span>

#include "hrnet/data/image.hpp"

namespace hrnet::data {

// A thick segment with round caps: every point within thickness / 2 of the segment.
void draw_line(Image& img, double x0, double y0, double x1, double y1, double thickness, Rgb color,
               double alpha = 1.0);
// A disc of the given radius.
void fill_circle(Image& img, double cx, double cy, double radius, Rgb color, double alpha = 1.0);
// An ellipse with semi-axes rx (along the direction `angle`, radians, clockwise in image coordinates
// since y points down) and ry.
void fill_ellipse(Image& img, double cx, double cy, double rx, double ry, double angle, Rgb color,
                  double alpha = 1.0);
// A polygon (convex or not; even-odd rule) given by its vertices in order.
void fill_polygon(Image& img, std::span<const std::array<double, 2>> vertices, Rgb color, double alpha = 1.0);
// The axis-aligned rectangle [x0, x1) x [y0, y1) in continuous coordinates.
void fill_rect(Image& img, double x0, double y0, double x1, double y1, Rgb color, double alpha = 1.0);

// A palette of distinct, saturated colours for people (index taken modulo the palette size;
// kPersonPaletteSize consecutive indices give different colours).
inline constexpr int kPersonPaletteSize = 12;
Rgb person_color(int i);

// COCO's person skeleton (categories[0]["skeleton"] of person_keypoints_*.json), 0-based joint pairs.
// Joints: 0 nose, 1-2 eyes, 3-4 ears, 5-6 shoulders, 7-8 elbows, 9-10 wrists, 11-12 hips, 13-14 knees,
// 15-16 ankles (left first).
inline constexpr std::array<std::array<int, 2>, 19> kCocoSkeleton{{{15, 13},
                                                                   {13, 11},
                                                                   {16, 14},
                                                                   {14, 12},
                                                                   {11, 12},
                                                                   {5, 11},
                                                                   {6, 12},
                                                                   {5, 6},
                                                                   {5, 7},
                                                                   {6, 8},
                                                                   {7, 9},
                                                                   {8, 10},
                                                                   {1, 2},
                                                                   {0, 1},
                                                                   {0, 2},
                                                                   {1, 3},
                                                                   {2, 4},
                                                                   {3, 5},
                                                                   {4, 6}}};

// Draws one person's 17 COCO joints (keypoints = 17 x (x, y, score)): a line of `thickness` pixels
// for each skeleton limb whose two joints score >= min_score, then a disc of diameter
// thickness + 2 on each such joint. Non-finite joints are skipped. ShapeError unless 51 values.
void draw_skeleton(Image& img, std::span<const float> keypoints, Rgb color, float min_score, int thickness);

}  // namespace hrnet::data
