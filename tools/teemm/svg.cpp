// The map as an SVG picture (see svg.hpp).
#include "svg.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include "render.hpp"
#include "table_probe.hpp"

namespace teemm::tool {
namespace {

// ---- Geometry -------------------------------------------------------------------------------------

constexpr double kMargin = 20;
constexpr double kAxisWidth = 96;        // address labels
constexpr double kStripWidth = 10;       // block/page strip
constexpr double kSegmentMin = 16;       // a 4 KiB stretch
constexpr double kSegmentPerOctave = 4;  // + this per doubling: 2 MiB 52, 1 GiB 88, 256 GiB 120
constexpr double kGapHeight = 20;        // a stretch no region covers
constexpr double kFontSize = 10;
constexpr double kCharWidth = 5.9;  // average advance at kFontSize, sans-serif
constexpr double kPanelGap = 170;   // between the physical and the virtual panel (the connectors)

// ---- Colours --------------------------------------------------------------------------------------

const char* type_colour(mm::MemoryType type) {
  switch (type) {
    case mm::MemoryType::kTeeRam: return "#b2182b";
    case mm::MemoryType::kTeeRamRx: return "#d7301f";
    case mm::MemoryType::kTeeRamRo: return "#fc8d59";
    case mm::MemoryType::kTeeRamRw: return "#fdbb84";
    case mm::MemoryType::kTeeCoherent: return "#fdd49e";
    case mm::MemoryType::kTeeAsan: return "#fee8c8";
    case mm::MemoryType::kTaRam: return "#8c6bb1";
    case mm::MemoryType::kNsecShm: return "#31a354";
    case mm::MemoryType::kRamNsec: return "#c7e9c0";
    case mm::MemoryType::kRamSec: return "#bcbddc";
    case mm::MemoryType::kIoNsec: return "#dfc27d";
    case mm::MemoryType::kIoSec: return "#8c510a";
    case mm::MemoryType::kResVaspace: return "#c7eae5";
    case mm::MemoryType::kShmVaspace: return "#80cdc1";
    case mm::MemoryType::kTaVaspace: return "#e0f3f8";
    case mm::MemoryType::kPagerVaspace: return "#abd9e9";
    case mm::MemoryType::kSdpMem: return "#f768a1";
    case mm::MemoryType::kDdrOverall: return "#e0e0e0";
  }
  return "#ffffff";
}

// Dark fills get white text.
const char* text_colour(const char* fill) {
  unsigned r = 0, g = 0, b = 0;
  if (std::sscanf(fill, "#%02x%02x%02x", &r, &g, &b) != 3) return "#111111";
  const double luminance = 0.299 * r + 0.587 * g + 0.114 * b;
  return luminance < 140 ? "#ffffff" : "#111111";
}

const char* leaf_colour(unsigned level) {
  switch (level) {
    case 1: return "#08306b";
    case 2: return "#2171b5";
    default: return "#9ecae1";
  }
}

// ---- Text -----------------------------------------------------------------------------------------

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out += c;
    }
  }
  return out;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", value);
  return text;
}

// Cuts `text` to what fits in `width` pixels, marking the cut.
std::string fit(const std::string& text, double width) {
  const double available = width / kCharWidth;
  if (available < 2) return "";
  const size_t chars = static_cast<size_t>(available);
  if (text.size() <= chars) return text;
  return text.substr(0, chars - 1) + "~";
}

std::string short_hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%" PRIx64, value);
  return text;
}

class Svg {
 public:
  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& extra = "") {
    out_ += "<rect x=\"" + number(x) + "\" y=\"" + number(y) + "\" width=\"" + number(w) + "\" height=\"" + number(h) +
            "\" fill=\"" + fill + "\"" + (extra.empty() ? "" : " " + extra) + "/>\n";
  }
  void text(double x, double y, const std::string& content, const std::string& attributes) {
    if (content.empty()) return;
    out_ += "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\" " + attributes + ">" + escape(content) + "</text>\n";
  }
  void raw(const std::string& text) { out_ += text; }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// ---- The broken, log-scaled axis ------------------------------------------------------------------

struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;  // exclusive; end > begin
};

class Axis {
 public:
  Axis(const std::vector<Range>& ranges, double top) {
    for (const Range& r : ranges) {
      bounds_.push_back(r.begin);
      bounds_.push_back(r.end);
    }
    std::sort(bounds_.begin(), bounds_.end());
    bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
    // Which stretches some range covers (a difference array over the bounds).
    std::vector<int> delta(bounds_.size() + 1, 0);
    for (const Range& r : ranges) {
      ++delta[index_of(r.begin)];
      --delta[index_of(r.end)];
    }
    y_.push_back(top);
    int depth = 0;
    for (size_t i = 0; i + 1 < bounds_.size(); ++i) {
      depth += delta[i];
      const bool covered = depth > 0;
      covered_.push_back(covered);
      const double pages = std::max(1.0, static_cast<double>(bounds_[i + 1] - bounds_[i]) / kPageSize);
      y_.push_back(y_.back() + (covered ? kSegmentMin + kSegmentPerOctave * std::log2(pages) : kGapHeight));
    }
  }

  double y(uint64_t address) const {
    if (bounds_.empty()) return 0;
    if (address <= bounds_.front()) return y_.front();
    if (address >= bounds_.back()) return y_.back();
    const size_t i =
        static_cast<size_t>(std::upper_bound(bounds_.begin(), bounds_.end(), address) - bounds_.begin()) - 1;
    const double fraction =
        static_cast<double>(address - bounds_[i]) / static_cast<double>(bounds_[i + 1] - bounds_[i]);
    return y_[i] + fraction * (y_[i + 1] - y_[i]);
  }
  double bottom() const { return y_.empty() ? 0 : y_.back(); }
  const std::vector<uint64_t>& bounds() const { return bounds_; }
  double bound_y(size_t i) const { return y_[i]; }
  bool covered(size_t segment) const { return covered_[segment]; }

 private:
  std::vector<uint64_t> bounds_;
  std::vector<double> y_;
  std::vector<bool> covered_;

  size_t index_of(uint64_t value) const {
    return static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  }
};

void draw_axis(Svg& svg, const Axis& axis, double x_labels, double x_lanes, double x_end) {
  const std::vector<uint64_t>& bounds = axis.bounds();
  for (size_t i = 0; i < bounds.size(); ++i) {
    const double y = axis.bound_y(i);
    svg.raw("<line x1=\"" + number(x_labels + kAxisWidth - 6) + "\" y1=\"" + number(y) + "\" x2=\"" + number(x_end) +
            "\" y2=\"" + number(y) + "\" stroke=\"#bbbbbb\" stroke-width=\"0.5\"/>\n");
    svg.text(x_labels + kAxisWidth - 8, y + 3.5, short_hex(bounds[i]),
             "text-anchor=\"end\" font-family=\"monospace\" font-size=\"9\" fill=\"#333333\"");
  }
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    if (axis.covered(i)) continue;
    const double y0 = axis.bound_y(i);
    const double y1 = axis.bound_y(i + 1);
    const double mid = (y0 + y1) / 2;
    // A zigzag across the lanes: the axis is broken here.
    std::string points;
    for (double x = x_lanes; x <= x_end; x += 8)
      points += number(x) + "," + number(mid + ((static_cast<int>((x - x_lanes) / 8) % 2) != 0 ? 3 : -3)) + " ";
    svg.raw("<polyline points=\"" + points + "\" fill=\"none\" stroke=\"#999999\" stroke-width=\"0.8\"/>\n");
    svg.text(x_end - 4, mid - 4, "gap " + human_size(bounds[i + 1] - bounds[i]),
             "text-anchor=\"end\" font-family=\"sans-serif\" font-size=\"8\" font-style=\"italic\" fill=\"#777777\"");
  }
}

// ---- Regions in lanes -----------------------------------------------------------------------------

struct Box {
  Range range;
  std::string name;
  std::string detail;  // second line: type and size
  std::string tooltip;
  const char* fill;
  bool secure = false;
  unsigned lane = 0;
};

struct Lane {
  const char* title;
  double width;
};

// Draws each lane's boxes. Overlapping boxes nest: a box inside (or overlapping) earlier ones is
// indented by kNestIndent per level, so a bus node's reg and the devices within it are all legible;
// a box that holds others shows its name along its left edge as well.
constexpr double kNestIndent = 14;

void draw_lanes(Svg& svg, const Axis& axis, std::vector<Box> boxes, const std::vector<Lane>& lanes,
                const std::vector<double>& lane_x) {
  std::stable_sort(boxes.begin(), boxes.end(), [](const Box& a, const Box& b) {
    return a.range.begin != b.range.begin ? a.range.begin < b.range.begin : a.range.end > b.range.end;
  });
  for (size_t lane = 0; lane < lanes.size(); ++lane) {
    std::vector<const Box*> in;
    for (const Box& b : boxes)
      if (b.lane == lane) in.push_back(&b);
    std::vector<size_t> depth(in.size());
    std::vector<uint64_t> open;  // ends of the boxes still open, outermost first
    for (size_t i = 0; i < in.size(); ++i) {
      while (!open.empty() && open.back() <= in[i]->range.begin) open.pop_back();
      depth[i] = std::min<size_t>(open.size(), 6);
      open.push_back(in[i]->range.end);
    }
    for (size_t i = 0; i < in.size(); ++i) {
      const Box& b = *in[i];
      const double indent = static_cast<double>(depth[i]) * kNestIndent;
      const double x = lane_x[lane] + indent;
      const double width = lanes[lane].width - indent;
      const double y0 = axis.y(b.range.begin);
      const double h = std::max(1.0, axis.y(b.range.end) - y0);
      // Does the next box nest in this one, and where does it start?
      const bool holds = i + 1 < in.size() && depth[i + 1] > depth[i];
      const double first_inside = holds ? axis.y(in[i + 1]->range.begin) - y0 : h;
      svg.raw("<g><title>" + escape(b.tooltip) + "</title>\n");
      svg.rect(x + 1, y0 + 0.5, width - 2, h - 1, b.fill,
               b.secure ? "stroke=\"#67001f\" stroke-width=\"1.6\"" : "stroke=\"#444444\" stroke-width=\"0.6\"");
      const char* ink = text_colour(b.fill);
      const std::string attributes =
          std::string("font-family=\"sans-serif\" font-size=\"") + number(kFontSize) + "\" fill=\"" + ink + "\"";
      if (first_inside >= 12) svg.text(x + 4, y0 + 11, fit(b.name, width - 8), attributes + " font-weight=\"bold\"");
      if (first_inside >= 24) svg.text(x + 4, y0 + 22, fit(b.detail, width - 8), attributes);
      if (holds && first_inside < 24 && h >= 40) {  // the name along the edge the nested boxes leave free
        const double cx = x + kNestIndent / 2 + 3;
        const double cy = y0 + h / 2;
        svg.raw("<text transform=\"translate(" + number(cx) + "," + number(cy) +
                ") rotate(-90)\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"9\" fill=\"" + ink +
                "\">" + escape(fit(b.name, h - 8)) + "</text>\n");
      }
      svg.raw("</g>\n");
    }
  }
}

void draw_lane_titles(Svg& svg, const std::vector<Lane>& lanes, const std::vector<double>& lane_x, double y) {
  for (size_t i = 0; i < lanes.size(); ++i)
    svg.text(lane_x[i] + 2, y, fit(lanes[i].title, lanes[i].width),
             "font-family=\"sans-serif\" font-size=\"10\" font-weight=\"bold\" fill=\"#333333\"");
}

// The leaves over an input range, drawn as a strip at `x` on `axis`; `shift` turns VA into the
// axis's addresses (PA - VA for the physical panel, 0 for the virtual one).
void draw_strip(Svg& svg, const Axis& axis, const std::vector<LeafRun>& runs, uint64_t shift, double x) {
  for (const LeafRun& r : runs) {
    const double y0 = axis.y(r.va + shift);
    const double y1 = axis.y(r.va + r.size + shift);
    svg.rect(x, y0, kStripWidth, std::max(0.8, y1 - y0), leaf_colour(r.level));
  }
}

std::string type_and_size(mm::MemoryType type, uint64_t size) {
  return std::string(mm::memory_type_name(type)) + "  " + human_size(size);
}

}  // namespace

std::string render_map_svg(const Session& session) {
  const mm::PhysMemRegistry& registry = session.registry();
  const mm::MemoryMap& map = session.map();
  const arm64::TranslationTable& table = session.table().raw();

  // Physical panel lanes.
  // Physical panel lanes; the mapped lane last, next to its strip and the connectors.
  const std::vector<Lane> pa_lanes = {
      {"DDR", 130}, {"non-secure DDR, SDP", 130}, {"devices (ioremap)", 190}, {"mapped at boot", 190}};
  // Virtual panel lanes.
  const std::vector<Lane> va_lanes = {{"static map and reservations", 230}};

  std::vector<Box> pa_boxes;
  std::vector<Range> pa_ranges;
  std::vector<bool> types_seen(mm::kMemoryTypeCount, false);
  for (const mm::Region& r : registry) {
    if (r.is_va_reservation() || r.size.is_zero()) continue;
    const Range range{r.base.value, r.end()};
    pa_ranges.push_back(range);
    unsigned lane = 0;
    switch (r.kind) {
      case mm::RegionKind::kOverallDdr: lane = 0; break;
      case mm::RegionKind::kNonSecureDdr:
      case mm::RegionKind::kSecureDataPath: lane = 1; break;
      case mm::RegionKind::kDeviceIo: lane = 2; break;
      case mm::RegionKind::kMapped: lane = 3; break;
    }
    const mm::TypeAttributes& t = mm::type_attributes(r.type);
    const bool secure = r.kind == mm::RegionKind::kMapped || r.kind == mm::RegionKind::kDeviceIo ||
                                r.kind == mm::RegionKind::kSecureDataPath
                            ? t.secure
                            : false;
    types_seen[static_cast<unsigned>(r.type)] = true;
    pa_boxes.push_back(Box{range, r.name, type_and_size(r.type, r.size.bytes),
                           std::string(r.name) + ": " + mm::region_kind_name(r.kind) + " " +
                               mm::memory_type_name(r.type) + ", PA " + short_hex(range.begin) + ".." +
                               short_hex(range.end) + " (" + human_size(r.size.bytes) + ")",
                           type_colour(r.type), secure, lane});
  }

  std::vector<Box> va_boxes;
  std::vector<Range> va_ranges;
  for (const mm::MapEntry& e : map) {
    const Range range{e.va.value, e.end_va().value};
    va_ranges.push_back(range);
    types_seen[static_cast<unsigned>(e.type)] = true;
    const std::string pa = e.is_va_reservation() ? "reserved VA" : "PA " + short_hex(e.pa.value);
    va_boxes.push_back(Box{range, e.name, type_and_size(e.type, e.size.bytes),
                           std::string(e.name) + ": " + mm::memory_type_name(e.type) + ", VA " +
                               short_hex(range.begin) + ".." + short_hex(range.end) + " (" + human_size(e.size.bytes) +
                               "), " + pa,
                           type_colour(e.type), !e.is_va_reservation() && mm::type_attributes(e.type).secure, 0});
  }
  // Live dynamic ranges, inside their reservations (collected first: the visitor holds the lock).
  std::vector<mm::VaRange> dynamic;
  session.space().for_each_range([&](const mm::VaRange& r) { dynamic.push_back(r); });
  for (const mm::VaRange& r : dynamic) va_ranges.push_back(Range{r.start.value, r.start.value + r.size.bytes});

  // Panels.
  const double pa_x = kMargin;
  std::vector<double> pa_lane_x;
  double x = pa_x + kAxisWidth;
  for (size_t i = 0; i < pa_lanes.size(); ++i) {
    pa_lane_x.push_back(x);
    x += pa_lanes[i].width + (i == 3 ? kStripWidth + 4 : 0);
  }
  const double pa_strip_x = pa_lane_x[3] + pa_lanes[3].width + 2;
  const double pa_end = x;
  const double va_x = pa_end + kPanelGap;
  const std::vector<double> va_lane_x = {va_x + kAxisWidth};
  const double va_strip_x = va_lane_x[0] + va_lanes[0].width + 2;
  const double va_end = va_strip_x + kStripWidth;

  const double total_width = va_end + kMargin;

  // Title, legend.
  double y = kMargin;
  Svg body;
  const arm64::TableStatistics& stats = table.statistics();
  body.text(kMargin, y + 14,
            "teemm map: platform " + session.platform_name() + ", " + std::to_string(map.options().va_bits) +
                "-bit VA, VA offset " + short_hex(map.options().va_offset) + ", " + std::to_string(registry.count()) +
                " regions, " + std::to_string(stats.table_pages) + " table pages",
            "font-family=\"sans-serif\" font-size=\"15\" font-weight=\"bold\" fill=\"#111111\"");
  y += 34;
  double legend_x = kMargin;
  const double legend_width = 150;
  const auto legend_item = [&](const char* fill, const std::string& label, const std::string& extra) {
    if (legend_x + legend_width > total_width - kMargin) {
      legend_x = kMargin;
      y += 16;
    }
    body.rect(legend_x, y, 12, 10, fill, extra);
    body.text(legend_x + 16, y + 9, label, "font-family=\"sans-serif\" font-size=\"10\" fill=\"#222222\"");
    legend_x += legend_width;
  };
  for (unsigned i = 0; i < mm::kMemoryTypeCount; ++i)
    if (types_seen[i])
      legend_item(type_colour(static_cast<mm::MemoryType>(i)), mm::memory_type_name(static_cast<mm::MemoryType>(i)),
                  "stroke=\"#444444\" stroke-width=\"0.6\"");
  legend_item("#ffffff", "secure (outline)", "stroke=\"#67001f\" stroke-width=\"1.6\"");
  legend_item(leaf_colour(1), "1 GiB blocks", "");
  legend_item(leaf_colour(2), "2 MiB blocks", "");
  legend_item(leaf_colour(3), "4 KiB pages", "");
  y += 30;

  body.text(pa_x, y, "physical address space", "font-family=\"sans-serif\" font-size=\"13\" font-weight=\"bold\"");
  body.text(va_x, y, "virtual address space", "font-family=\"sans-serif\" font-size=\"13\" font-weight=\"bold\"");
  y += 14;
  body.text(pa_x, y, "log-scaled stretches between region boundaries; a zigzag is a break in the axis",
            "font-family=\"sans-serif\" font-size=\"9\" fill=\"#555555\"");
  y += 18;
  draw_lane_titles(body, pa_lanes, pa_lane_x, y);
  draw_lane_titles(body, va_lanes, va_lane_x, y);
  y += 10;

  const Axis pa_axis(pa_ranges, y);
  const Axis va_axis(va_ranges, y);
  draw_axis(body, pa_axis, pa_x, pa_lane_x[0], pa_end);
  draw_axis(body, va_axis, va_x, va_lane_x[0], va_end);

  // Connectors first, under the boxes.
  for (const mm::MapEntry& e : map) {
    if (e.is_va_reservation()) continue;
    const double x0 = pa_strip_x + kStripWidth;
    const double x1 = va_lane_x[0];
    const double a0 = pa_axis.y(e.pa.value);
    const double a1 = pa_axis.y(e.pa.value + e.size.bytes);
    const double b0 = va_axis.y(e.va.value);
    const double b1 = va_axis.y(e.end_va().value);
    const char* fill = type_colour(e.type);
    body.raw("<polygon points=\"" + number(x0) + "," + number(a0) + " " + number(x1) + "," + number(b0) + " " +
             number(x1) + "," + number(b1) + " " + number(x0) + "," + number(a1) + "\" fill=\"" + fill +
             "\" fill-opacity=\"0.25\" stroke=\"" + fill + "\" stroke-opacity=\"0.7\" stroke-width=\"0.6\"/>\n");
  }
  draw_lanes(body, pa_axis, pa_boxes, pa_lanes, pa_lane_x);
  draw_lanes(body, va_axis, va_boxes, va_lanes, va_lane_x);

  // Dynamic ranges inside their reservations.
  for (const mm::VaRange& r : dynamic) {
    const double y0 = va_axis.y(r.start.value);
    const double h = std::max(1.0, va_axis.y(r.start.value + r.size.bytes) - y0);
    const double inset = 120;
    body.raw("<g><title>" +
             escape(std::string(mm::va_range_kind_name(r.kind)) + " range of guest " + std::to_string(r.owner.value) +
                    ", VA " + short_hex(r.start.value) + " (" + human_size(r.size.bytes) + ")") +
             "</title>\n");
    body.rect(va_lane_x[0] + inset, y0 + 1, va_lanes[0].width - inset - 4, h - 2, "#01665e",
              "fill-opacity=\"0.85\" stroke=\"#003c30\" stroke-width=\"0.5\"");
    if (h >= 12)
      body.text(va_lane_x[0] + inset + 4, y0 + 11,
                fit(std::string(mm::va_range_kind_name(r.kind)) + " g" + std::to_string(r.owner.value) + " " +
                        human_size(r.size.bytes),
                    va_lanes[0].width - inset - 12),
                "font-family=\"sans-serif\" font-size=\"9\" fill=\"#ffffff\"");
    body.raw("</g>\n");
  }

  // Block/page strips: the static map's leaves on both panels, and the dynamic ones on the virtual.
  for (const mm::MapEntry& e : map) {
    const std::vector<LeafRun> runs = leaf_runs(session.pool(), table, e.va.value, e.size.bytes);
    draw_strip(body, va_axis, runs, 0, va_strip_x);
    if (!e.is_va_reservation()) draw_strip(body, pa_axis, runs, e.pa.value - e.va.value, pa_strip_x);
  }

  const double height = std::max(pa_axis.bottom(), va_axis.bottom()) + kMargin + 10;
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(total_width) + "\" height=\"" + number(height) +
         "\" viewBox=\"0 0 " + number(total_width) + " " + number(height) + "\">\n";
  out += "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  out += body.str();
  out += "</svg>\n";
  return out;
}

std::string write_map_svg(const Session& session, const std::string& path) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) return "--svg " + path + ": cannot write";
  const std::string svg = render_map_svg(session);
  file.write(svg.data(), static_cast<std::streamsize>(svg.size()));
  file.close();
  if (!file) return "--svg " + path + ": cannot write";
  return "";
}

}  // namespace teemm::tool
