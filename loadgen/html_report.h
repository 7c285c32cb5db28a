// report.html: a self-contained page rendered from report.json (inline CSS and inline
// SVG, no script, no network): the run's header, the summary table, rates and latency
// over time, the latency distribution from the merged histogram, server CPU/RSS over
// time, and for saturation the per-step rate vs p99 with the bound.
//
// The building blocks (escaping, scales, the SVG path builder, ticks, a line chart) are
// public so tests pin them; renderHtmlReport() is a pure function of the JSON report, so
// `xmesh-loadgen html report.json` can re-render an old run.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace xmesh::loadgen::html {

// Escapes & < > " ' for text and attribute values.
std::string escape(std::string_view text);

// Maps a domain [d0, d1] onto a range [r0, r1], linearly or logarithmically (log: the
// domain must be positive; values <= 0 map to NaN).
struct Scale {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  bool log = false;
  double operator()(double v) const;
};

using Points = std::vector<std::pair<double, double>>;

// "M x,y L x,y ..." with one decimal; a point whose x or y is not finite (or maps to a
// non-finite coordinate) breaks the line, so gaps in a series are drawn as gaps.
std::string svgPath(const Points& points, const Scale& x, const Scale& y);

// Round tick values (1, 2, 5 x 10^k steps) covering [lo, hi], at most about maxTicks;
// for a log scale, the powers of ten inside [lo, hi] (plus 2 and 5 multiples if few).
std::vector<double> niceTicks(double lo, double hi, int maxTicks, bool log = false);

// Compact number: 1234 -> "1.2k", 0.25 -> "0.25", 3e6 -> "3M".
std::string compact(double v);

struct Series {
  std::string name;
  std::string color;
  Points points;
  bool dashed = false;
  bool markers = false;  // draw a dot per point (with a tooltip)
};

struct Band {  // shaded x interval with a label (phases)
  double x0 = 0, x1 = 0;
  std::string label, color;
};

struct Chart {
  std::string title, xLabel, yLabel;
  std::vector<Series> series;
  std::vector<Band> bands;
  std::vector<std::pair<double, std::string>> hLines;  // y value, label (dashed)
  bool logX = false, logY = false;
  double yMin = 0;  // linear y starts here unless data goes lower
  std::vector<std::pair<double, std::string>> xTicks;  // custom ticks (empty = automatic)
  int width = 580, height = 280;
};

// One <svg> element; an empty chart (no finite points) says "no data".
std::string renderChart(const Chart& chart);

// The latency distribution of a report histogram ({"buckets": [[lo, hi, count], ...]}):
// one bar per bucket on a log latency axis plus the cumulative share.
std::string renderDistribution(const nlohmann::json& histogram, const std::string& title);

// The percentile spectrum (HdrHistogram style: x = 1/(1-p) on a log axis) of histograms.
std::string renderSpectrum(const std::vector<std::pair<std::string, const nlohmann::json*>>& histograms);

std::string renderHtmlReport(const nlohmann::json& report);

}  // namespace xmesh::loadgen::html
