// Private to src/data: the libjpeg(-turbo) decoding glue shared by image_io.cpp (whole images) and
// jpeg_region.cpp (DCT-scaled regions). Only compiled with HRNET_IMAGE_LIBJPEG.
//
// libjpeg reports errors through error_exit, which must not return; we longjmp back to the stage
// function that called libjpeg. The stage functions call setjmp and hold only trivially destructible
// locals, so a longjmp out of libjpeg skips no destructor; everything with one lives in the caller.
#pragma once
#if defined(HRNET_IMAGE_LIBJPEG)
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include <jerror.h>
#include <jpeglib.h>

#include "hrnet/data/image.hpp"

namespace hrnet::data::jpeg_detail {

// jpeg_error_mgr comes first so libjpeg's pointer is ours.
struct JpegErrorMgr {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] inline void on_jpeg_error(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegErrorMgr*>(c->err);
  c->err->format_message(c, e->message);
  std::longjmp(e->jump, 1);
}

// Warnings (level -1) mostly mean corrupt data that libjpeg papers over (grey blocks); those are
// errors here. Some are about harmless metadata and are ignored, as OpenCV ignores all of them.
inline void on_jpeg_message(j_common_ptr c, int level) {
  if (level >= 0) return;
  const int code = c->err->msg_code;
  // Benign: odd Adobe/JFIF headers, and stray bytes between markers (some real COCO train images
  // have them; the pixel data decodes completely, and cv2, which the official loader uses, accepts
  // them). Every other warning means corrupt or missing pixel data.
  if (code == JWRN_ADOBE_XFORM || code == JWRN_JFIF_MAJOR || code == JWRN_EXTRANEOUS_DATA) return;
  on_jpeg_error(c);
}

inline void on_jpeg_output(j_common_ptr) {}

inline void install(JpegErrorMgr& e, j_common_ptr c) {
  c->err = jpeg_std_error(&e.pub);
  e.pub.error_exit = on_jpeg_error;
  e.pub.emit_message = on_jpeg_message;
  e.pub.output_message = on_jpeg_output;
  e.message[0] = '\0';
}

struct JpegDecoder {
  jpeg_decompress_struct cinfo{};
  JpegErrorMgr err{};
  bool created = false;
  JpegDecoder() = default;
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;
  // jpeg_destroy_decompress is valid in every state, also after a decode stopped early.
  ~JpegDecoder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

inline bool header_stage(JpegDecoder& d, const unsigned char* data, unsigned long size) {
  install(d.err, reinterpret_cast<j_common_ptr>(&d.cinfo));
  if (setjmp(d.err.jump)) return false;
  jpeg_create_decompress(&d.cinfo);
  d.created = true;
  jpeg_mem_src(&d.cinfo, data, size);
  jpeg_read_header(&d.cinfo, TRUE);
  return true;
}

// 4-component JPEGs are CMYK or YCCK (libjpeg's reading of the Adobe marker); libjpeg turns YCCK into
// CMYK. Both are decoded as CMYK and converted by cmyk_inverted_to_rgb.
inline bool is_cmyk(const JpegDecoder& d) {
  return d.cinfo.jpeg_color_space == JCS_CMYK || d.cinfo.jpeg_color_space == JCS_YCCK;
}

// OpenCV's settings (also libjpeg's and Pillow's defaults): accurate integer IDCT, fancy (triangle)
// upsampling; output RGB (grayscale is replicated by libjpeg) or CMYK; scale scale_num / 8.
inline void set_output(JpegDecoder& d, int scale_num) {
  d.cinfo.out_color_space = is_cmyk(d) ? JCS_CMYK : JCS_RGB;
  d.cinfo.dct_method = JDCT_ISLOW;
  d.cinfo.do_fancy_upsampling = TRUE;
  d.cinfo.scale_num = static_cast<unsigned int>(scale_num);
  d.cinfo.scale_denom = 8;
}

inline bool start_stage(JpegDecoder& d) {
  if (setjmp(d.err.jump)) return false;
  jpeg_start_decompress(&d.cinfo);
  return true;
}

// jpeg_crop_scanline: xoffset moves down to an iMCU boundary and width grows to keep the right edge.
inline bool crop_stage(JpegDecoder& d, JDIMENSION* xoffset, JDIMENSION* width) {
  if (setjmp(d.err.jump)) return false;
  jpeg_crop_scanline(&d.cinfo, xoffset, width);
  return true;
}

inline bool skip_stage(JpegDecoder& d, JDIMENSION rows) {
  if (setjmp(d.err.jump)) return false;
  return rows == 0 || jpeg_skip_scanlines(&d.cinfo, rows) == rows;
}

// Reads the next `rows` rows into out (row r at out + r * stride).
inline bool read_rows_stage(JpegDecoder& d, unsigned char* out, std::size_t stride, JDIMENSION rows) {
  if (setjmp(d.err.jump)) return false;
  for (JDIMENSION r = 0; r < rows;) {
    JSAMPROW row = out + std::size_t(r) * stride;
    const JDIMENSION n = jpeg_read_scanlines(&d.cinfo, &row, 1);
    if (n != 1) return false;
    r += n;
  }
  return true;
}

inline bool finish_stage(JpegDecoder& d) {
  if (setjmp(d.err.jump)) return false;
  jpeg_finish_decompress(&d.cinfo);
  return true;
}

[[noreturn]] inline void fail(const JpegDecoder& d, const std::string& name) {
  const std::string msg = d.err.message[0] ? d.err.message : "decoding stopped early";
  HRNET_THROW(data::ImageError, name << ": corrupt or truncated JPEG (libjpeg: " << msg << ")");
}

// Pillow's conversion of a CMYK JPEG to RGB, bit for bit: its JPEG plugin reads every 4-component
// JPEG as "CMYK;I" (Adobe's inverted convention: 255 = no ink), i.e. ink = 255 - sample, and
// Image.convert("RGB") computes (libImaging/Convert.c, cmyk2rgb)
//   nk = 255 - K;  R = nk - MULDIV255(C, nk)  (likewise G from M, B from Y),
// MULDIV255(a, b) = ((t >> 8) + t) >> 8 with t = a * b + 128. The result is always in 0..255.
inline void cmyk_inverted_to_rgb(const std::uint8_t* in, std::uint8_t* out, std::size_t pixels) {
  for (std::size_t i = 0; i < pixels; ++i, in += 4, out += 3) {
    const int nk = in[3];  // 255 - ink K
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - in[c]) * nk + 128;
      out[c] = static_cast<std::uint8_t>(nk - (((t >> 8) + t) >> 8));
    }
  }
}

}  // namespace hrnet::data::jpeg_detail
#endif
