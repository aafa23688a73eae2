// tests/dt/png_decode: just enough PNG decoding to look at what a renderer drew — 8-bit RGB or
// RGBA, not interlaced, every scanline filter — with zlib doing the inflating.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace teemm::testing {

struct Image {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint32_t> pixels;  // 0xRRGGBB, alpha composed over white
  std::string error;             // "" when decoded
};

inline uint32_t png_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

inline Image decode_png(const std::vector<unsigned char>& file) {
  Image image;
  static const unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (file.size() < 8 || !std::equal(kSignature, kSignature + 8, file.begin())) {
    image.error = "not a PNG";
    return image;
  }
  unsigned channels = 0;
  std::vector<unsigned char> compressed;
  for (size_t at = 8; at + 12 <= file.size();) {
    const uint32_t length = png_be32(&file[at]);
    if (length > file.size() - at - 12) {
      image.error = "truncated chunk";
      return image;
    }
    const std::string type(reinterpret_cast<const char*>(&file[at + 4]), 4);
    const unsigned char* data = &file[at + 8];
    if (type == "IHDR") {
      image.width = png_be32(data);
      image.height = png_be32(data + 4);
      const unsigned depth = data[8], colour = data[9], interlace = data[12];
      if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0) {
        image.error = "unsupported PNG format";
        return image;
      }
      channels = colour == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      compressed.insert(compressed.end(), data, data + length);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + length;
  }
  if (channels == 0 || image.width == 0 || image.height == 0) {
    image.error = "no IHDR";
    return image;
  }
  const size_t stride = size_t{image.width} * channels;
  std::vector<unsigned char> raw((stride + 1) * image.height);
  uLongf raw_size = static_cast<uLongf>(raw.size());
  if (uncompress(raw.data(), &raw_size, compressed.data(), static_cast<uLong>(compressed.size())) != Z_OK ||
      raw_size != raw.size()) {
    image.error = "bad image data";
    return image;
  }
  std::vector<unsigned char> previous(stride, 0), line(stride);
  image.pixels.resize(size_t{image.width} * image.height);
  for (uint32_t y = 0; y < image.height; ++y) {
    const unsigned char filter = raw[y * (stride + 1)];
    const unsigned char* in = &raw[y * (stride + 1) + 1];
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= channels ? line[i - channels] : 0;
      const int b = previous[i];
      const int c = i >= channels ? previous[i - channels] : 0;
      int predictor = 0;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: image.error = "bad filter"; return image;
      }
      line[i] = static_cast<unsigned char>(in[i] + predictor);
    }
    for (uint32_t x = 0; x < image.width; ++x) {
      const unsigned char* p = &line[size_t{x} * channels];
      const unsigned alpha = channels == 4 ? p[3] : 255;
      uint32_t rgb = 0;
      for (int k = 0; k < 3; ++k) rgb = (rgb << 8) | ((p[k] * alpha + 255 * (255 - alpha) + 127) / 255);
      image.pixels[size_t{y} * image.width + x] = rgb;
    }
    previous.swap(line);
  }
  return image;
}

}  // namespace teemm::testing
