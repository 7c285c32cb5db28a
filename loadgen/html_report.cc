#include "loadgen/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "loadgen/drill_report.h"
#include "loadgen/report_summary.h"

namespace xmesh::loadgen::html {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fmt(const char* f, double a) {
  char b[64];
  std::snprintf(b, sizeof b, f, a);
  return b;
}

std::string trimmed(double v, int prec) {
  std::string s = fmt(("%." + std::to_string(prec) + "f").c_str(), v);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

// Coordinates in the SVG: one decimal is plenty.
std::string c1(double v) { return trimmed(v, 1); }

const char* kPalette[] = {"#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2"};

struct Extent {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v, bool log) {
    if (!std::isfinite(v) || (log && v <= 0)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return !(hi >= lo); }
};

// Widens an extent to round bounds.
void roundOut(Extent& e, bool log, double floorValue, int ticks) {
  if (log) {
    e.lo = std::pow(10.0, std::floor(std::log10(e.lo)));
    e.hi = std::pow(10.0, std::ceil(std::log10(e.hi)));
    if (e.hi <= e.lo) e.hi = e.lo * 10;
    return;
  }
  e.lo = std::min(e.lo, floorValue);
  if (e.hi <= e.lo) e.hi = e.lo + 1;
  auto t = niceTicks(e.lo, e.hi, ticks);
  if (t.size() >= 2) {
    double step = t[1] - t[0];
    e.hi = std::ceil(e.hi / step - 1e-9) * step;
    e.lo = std::floor(e.lo / step + 1e-9) * step;
  }
}

struct Frame {
  int w, h;
  double left = 62, right, top = 46, bottom;
  Frame(int width, int height) : w(width), h(height), right(width - 26.0), bottom(height - 40.0) {}
};

std::string svgOpen(const Frame& f, const std::string& title) {
  return "<svg class=\"chart\" viewBox=\"0 0 " + std::to_string(f.w) + " " + std::to_string(f.h) +
         "\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"" + escape(title) + "\">\n" +
         "<text class=\"ct\" x=\"8\" y=\"18\">" + escape(title) + "</text>\n";
}

std::string legend(const std::vector<std::pair<std::string, std::string>>& items, const Frame& f, bool dashedLast = false) {
  std::string out;
  double x = f.left;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& [name, color] = items[i];
    bool dashed = dashedLast && i + 1 == items.size();
    out += "<line x1=\"" + c1(x) + "\" y1=\"32\" x2=\"" + c1(x + 16) + "\" y2=\"32\" stroke=\"" + color +
           "\" stroke-width=\"3\"" + (dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>";
    out += "<text class=\"lg\" x=\"" + c1(x + 20) + "\" y=\"36\">" + escape(name) + "</text>\n";
    x += 30 + 6.5 * static_cast<double>(name.size());
  }
  return out;
}

std::string yAxis(const Frame& f, const Scale& y, const std::vector<double>& ticks, const std::string& label,
                  bool rightSide = false, const std::string& suffix = "") {
  std::string out;
  for (double t : ticks) {
    double py = y(t);
    if (!std::isfinite(py)) continue;
    if (!rightSide)
      out += "<line class=\"grid\" x1=\"" + c1(f.left) + "\" y1=\"" + c1(py) + "\" x2=\"" + c1(f.right) + "\" y2=\"" +
             c1(py) + "\"/>";
    out += "<text class=\"tk\" x=\"" + c1(rightSide ? f.right + 4 : f.left - 5) + "\" y=\"" + c1(py + 4) +
           "\" text-anchor=\"" + (rightSide ? "start" : "end") + "\">" + escape(compact(t) + suffix) + "</text>\n";
  }
  double mid = (f.top + f.bottom) / 2;
  double lx = rightSide ? f.w - 4.0 : 13.0;
  out += "<text class=\"al\" transform=\"translate(" + c1(lx) + "," + c1(mid) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escape(label) + "</text>\n";
  return out;
}

std::string xAxis(const Frame& f, const Scale& x, const std::vector<std::pair<double, std::string>>& ticks,
                  const std::string& label) {
  std::string out = "<line class=\"axis\" x1=\"" + c1(f.left) + "\" y1=\"" + c1(f.bottom) + "\" x2=\"" + c1(f.right) +
                    "\" y2=\"" + c1(f.bottom) + "\"/>";
  out += "<line class=\"axis\" x1=\"" + c1(f.left) + "\" y1=\"" + c1(f.top) + "\" x2=\"" + c1(f.left) + "\" y2=\"" +
         c1(f.bottom) + "\"/>\n";
  for (const auto& [t, text] : ticks) {
    double px = x(t);
    if (!std::isfinite(px) || px < f.left - 0.5 || px > f.right + 0.5) continue;
    out += "<line class=\"axis\" x1=\"" + c1(px) + "\" y1=\"" + c1(f.bottom) + "\" x2=\"" + c1(px) + "\" y2=\"" +
           c1(f.bottom + 4) + "\"/><text class=\"tk\" x=\"" + c1(px) + "\" y=\"" + c1(f.bottom + 16) +
           "\" text-anchor=\"middle\">" + escape(text) + "</text>\n";
  }
  out += "<text class=\"al\" x=\"" + c1((f.left + f.right) / 2) + "\" y=\"" + c1(f.h - 6.0) +
         "\" text-anchor=\"middle\">" + escape(label) + "</text>\n";
  return out;
}

std::vector<std::pair<double, std::string>> labelled(const std::vector<double>& ticks) {
  std::vector<std::pair<double, std::string>> out;
  for (double t : ticks) out.emplace_back(t, compact(t));
  return out;
}

std::string noData(const Frame& f, const std::string& title) {
  return svgOpen(f, title) + "<text class=\"lg\" x=\"" + c1(f.w / 2.0) + "\" y=\"" + c1(f.h / 2.0) +
         "\" text-anchor=\"middle\">no data</text></svg>\n";
}

double num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kNaN;
}

// Cumulative walk of a report histogram: calls f(lo, hi, count, cumBefore, cumAfter).
template <typename F>
uint64_t walkBuckets(const nlohmann::json& h, F&& f) {
  uint64_t total = 0;
  if (!h.is_object() || !h.contains("buckets")) return 0;
  for (const auto& b : h["buckets"]) total += b[2].get<uint64_t>();
  uint64_t cum = 0;
  for (const auto& b : h["buckets"]) {
    uint64_t n = b[2].get<uint64_t>();
    f(b[0].get<double>(), b[1].get<double>(), n, cum, cum + n, total);
    cum += n;
  }
  return total;
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

double Scale::operator()(double v) const {
  double a = d0, b = d1, x = v;
  if (log) {
    if (!(v > 0) || !(d0 > 0) || !(d1 > 0)) return kNaN;
    a = std::log10(d0);
    b = std::log10(d1);
    x = std::log10(v);
  }
  if (!std::isfinite(x)) return kNaN;
  if (b == a) return (r0 + r1) / 2;
  return r0 + (x - a) / (b - a) * (r1 - r0);
}

std::string svgPath(const Points& points, const Scale& x, const Scale& y) {
  std::string out;
  bool pen = false;
  for (const auto& [px, py] : points) {
    double sx = std::isfinite(px) ? x(px) : kNaN;
    double sy = std::isfinite(py) ? y(py) : kNaN;
    if (!std::isfinite(sx) || !std::isfinite(sy)) {
      pen = false;
      continue;
    }
    out += out.empty() ? "M" : pen ? " L" : " M";
    out += c1(sx) + "," + c1(sy);
    pen = true;
  }
  return out;
}

std::vector<double> niceTicks(double lo, double hi, int maxTicks, bool log) {
  std::vector<double> out;
  if (!std::isfinite(lo) || !std::isfinite(hi)) return out;
  if (hi < lo) std::swap(lo, hi);
  if (log) {
    if (hi <= 0) return out;
    if (lo <= 0) lo = hi / 1e6;
    int a = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
    int b = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
    for (int k = a; k <= b; ++k) out.push_back(std::pow(10.0, k));
    if (out.size() < 3) {
      for (int k = a - 1; k <= b; ++k)
        for (double m : {2.0, 5.0}) {
          double v = m * std::pow(10.0, k);
          if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push_back(v);
        }
      std::sort(out.begin(), out.end());
    }
    return out;
  }
  if (hi == lo) return {lo};
  double raw = (hi - lo) / std::max(1, maxTicks);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double norm = raw / mag;
  double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  auto k0 = static_cast<long long>(std::ceil(lo / step - 1e-9));   // NOLINT(runtime/int)
  auto k1 = static_cast<long long>(std::floor(hi / step + 1e-9));  // NOLINT(runtime/int)
  for (auto k = k0; k <= k1; ++k) out.push_back(static_cast<double>(k) * step);
  return out;
}

std::string compact(double v) {
  if (!std::isfinite(v)) return "-";
  double a = std::fabs(v);
  if (a >= 1e9) return trimmed(v / 1e9, a >= 1e10 ? 0 : 1) + "G";
  if (a >= 1e6) return trimmed(v / 1e6, a >= 1e7 ? 0 : 1) + "M";
  if (a >= 1e3) return trimmed(v / 1e3, a >= 1e4 ? 0 : 1) + "k";
  if (a >= 100) return trimmed(v, 0);
  if (a >= 10) return trimmed(v, 1);
  if (a >= 1) return trimmed(v, 2);
  if (a == 0) return "0";
  return fmt("%.2g", v);
}

std::string renderChart(const Chart& ch) {
  Frame f(ch.width, ch.height);
  Extent ex, ey;
  for (const auto& s : ch.series)
    for (const auto& [px, py] : s.points) {
      if (!std::isfinite(py) || (ch.logY && py <= 0)) continue;
      if (!std::isfinite(px) || (ch.logX && px <= 0)) continue;
      ex.add(px, ch.logX);
      ey.add(py, ch.logY);
    }
  if (ex.empty() || ey.empty()) return noData(f, ch.title);
  for (const auto& b : ch.bands) {
    ex.add(b.x0, ch.logX);
    ex.add(b.x1, ch.logX);
  }
  for (const auto& [v, label] : ch.hLines) ey.add(v, ch.logY);
  for (const auto& [v, label] : ch.xTicks) ex.add(v, ch.logX);
  if (ex.hi <= ex.lo) ex.hi = ex.lo + 1;
  roundOut(ey, ch.logY, ch.yMin, 5);
  Scale x{ex.lo, ex.hi, f.left, f.right, ch.logX};
  Scale y{ey.lo, ey.hi, f.bottom, f.top, ch.logY};

  std::string out = svgOpen(f, ch.title);
  for (const auto& b : ch.bands) {
    double x0 = std::max(f.left, x(b.x0)), x1 = std::min(f.right, x(b.x1));
    if (!(x1 > x0)) continue;
    out += "<rect x=\"" + c1(x0) + "\" y=\"" + c1(f.top) + "\" width=\"" + c1(x1 - x0) + "\" height=\"" +
           c1(f.bottom - f.top) + "\" fill=\"" + b.color + "\"/>";
    if (x1 - x0 > 6.0 * static_cast<double>(b.label.size()))
      out += "<text class=\"band\" x=\"" + c1(x0 + 3) + "\" y=\"" + c1(f.top + 11) + "\">" + escape(b.label) + "</text>";
    out += "\n";
  }
  out += yAxis(f, y, niceTicks(ey.lo, ey.hi, 5, ch.logY), ch.yLabel);
  out += xAxis(f, x, ch.xTicks.empty() ? labelled(niceTicks(ex.lo, ex.hi, 8, ch.logX)) : ch.xTicks, ch.xLabel);
  for (const auto& [v, label] : ch.hLines) {
    double py = y(v);
    if (!std::isfinite(py)) continue;
    out += "<line x1=\"" + c1(f.left) + "\" y1=\"" + c1(py) + "\" x2=\"" + c1(f.right) + "\" y2=\"" + c1(py) +
           "\" stroke=\"#b91c1c\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/><text class=\"hl\" x=\"" +
           c1(f.right - 4) + "\" y=\"" + c1(py - 4) + "\" text-anchor=\"end\">" + escape(label) + "</text>\n";
  }
  std::vector<std::pair<std::string, std::string>> items;
  for (size_t i = 0; i < ch.series.size(); ++i) {
    const auto& s = ch.series[i];
    std::string color = s.color.empty() ? kPalette[i % std::size(kPalette)] : s.color;
    items.emplace_back(s.name, color);
    std::string d = svgPath(s.points, x, y);
    if (!d.empty() && !s.markers)
      out += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.6\"" +
             (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + " stroke-linejoin=\"round\"/>\n";
    if (s.markers) {
      if (!d.empty())
        out += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1\" opacity=\"0.5\"/>\n";
      for (const auto& [px, py] : s.points) {
        double sx = x(px), sy = y(py);
        if (!std::isfinite(sx) || !std::isfinite(sy)) continue;
        out += "<circle cx=\"" + c1(sx) + "\" cy=\"" + c1(sy) + "\" r=\"4\" fill=\"" + color + "\"><title>" +
               escape(s.name + ": " + compact(px) + ", " + compact(py)) + "</title></circle>\n";
      }
    }
  }
  out += legend(items, f);
  return out + "</svg>\n";
}

std::string renderDistribution(const nlohmann::json& h, const std::string& title) {
  Frame f(580, 280);
  f.right = f.w - 48.0;
  Extent ex;
  uint64_t peak = 0;
  uint64_t total = walkBuckets(h, [&](double lo, double hi, uint64_t n, uint64_t, uint64_t, uint64_t) {
    ex.add(std::max(lo, 0.5) / 1000.0, true);
    ex.add((hi + 1) / 1000.0, true);
    peak = std::max(peak, n);
  });
  if (total == 0) return noData(f, title);
  roundOut(ex, true, 0, 0);
  Extent ey{0, static_cast<double>(peak)};
  roundOut(ey, false, 0, 5);
  Scale x{ex.lo, ex.hi, f.left, f.right, true};
  Scale y{ey.lo, ey.hi, f.bottom, f.top, false};
  Scale yc{0, 100, f.bottom, f.top, false};
  std::string out = svgOpen(f, title);
  out += yAxis(f, y, niceTicks(ey.lo, ey.hi, 5), "messages per bucket");
  out += yAxis(f, yc, {0, 25, 50, 75, 100}, "cumulative %", true, "%");
  out += xAxis(f, x, labelled(niceTicks(ex.lo, ex.hi, 8, true)), "latency (ms, log scale; buckets of 1/64 of a power of two)");
  std::string bars, cdf;
  double pcts[] = {50, 99, 99.9};
  std::vector<std::pair<double, double>> marks;  // (percentile, value ms)
  size_t nextMark = 0;
  walkBuckets(h, [&](double lo, double hi, uint64_t n, uint64_t before, uint64_t after, uint64_t all) {
    double x0 = x(std::max(lo, 0.5) / 1000.0), x1 = x((hi + 1) / 1000.0);
    double top = y(static_cast<double>(n));
    bars += "<rect x=\"" + c1(x0) + "\" y=\"" + c1(top) + "\" width=\"" + c1(std::max(x1 - x0, 0.6)) + "\" height=\"" +
            c1(f.bottom - top) + "\" fill=\"#2563eb\"><title>" +
            escape(trimmed(lo, 0) + "-" + trimmed(hi, 0) + " \xC2\xB5s: " + std::to_string(n) + " (" +
                   trimmed(100.0 * static_cast<double>(n) / static_cast<double>(all), 3) + "%)") +
            "</title></rect>";
    double cb = 100.0 * static_cast<double>(before) / static_cast<double>(all);
    double ca = 100.0 * static_cast<double>(after) / static_cast<double>(all);
    cdf += (cdf.empty() ? "M" : " L") + c1(x0) + "," + c1(yc(cb)) + " L" + c1(x1) + "," + c1(yc(ca));
    while (nextMark < std::size(pcts) && ca >= pcts[nextMark] - 1e-12) {
      marks.emplace_back(pcts[nextMark], std::clamp(hi, num(h, "min"), num(h, "max")) / 1000.0);
      ++nextMark;
    }
  });
  out += bars + "\n<path d=\"" + cdf + "\" fill=\"none\" stroke=\"#ea580c\" stroke-width=\"1.6\"/>\n";
  for (const auto& [p, v] : marks) {
    double px = x(v);
    bool rightHalf = px > (f.left + f.right) / 2;
    out += "<line x1=\"" + c1(px) + "\" y1=\"" + c1(f.top) + "\" x2=\"" + c1(px) + "\" y2=\"" + c1(f.bottom) +
           "\" stroke=\"#475569\" stroke-dasharray=\"3 3\"/><text class=\"hl2\" x=\"" +
           c1(rightHalf ? px - 3 : px + 3) + "\" y=\"" + c1(f.top + 10 + (p > 99.5 ? 22 : p > 90 ? 11 : 0)) +
           "\" text-anchor=\"" + (rightHalf ? "end" : "start") + "\">p" + trimmed(p, 1) + " " +
           trimmed(v, v < 1 ? 3 : v < 100 ? 2 : 0) + " ms</text>\n";
  }
  out += legend({{"messages per bucket", "#2563eb"}, {"cumulative %", "#ea580c"}}, f);
  return out + "</svg>\n";
}

std::string renderSpectrum(const std::vector<std::pair<std::string, const nlohmann::json*>>& hs) {
  Chart ch;
  ch.title = "Latency by percentile (HdrHistogram-style spectrum)";
  ch.xLabel = "percentile";
  ch.yLabel = "latency (ms, log)";
  ch.logX = ch.logY = true;
  double xCap = 100;
  for (const auto& [name, h] : hs) {
    Series s;
    s.name = name;
    uint64_t total = walkBuckets(*h, [&](double, double hi, uint64_t, uint64_t before, uint64_t after, uint64_t all) {
      double v = std::clamp(hi, num(*h, "min"), num(*h, "max")) / 1000.0;
      auto xOf = [&](uint64_t c) {
        return c >= all ? kNaN : 1.0 / (1.0 - static_cast<double>(c) / static_cast<double>(all));
      };
      double x0 = xOf(before), x1 = xOf(after);
      s.points.emplace_back(x0, v);
      s.points.emplace_back(std::isfinite(x1) ? x1 : -1.0, v);  // the last step is closed below
    });
    if (total == 0) continue;
    xCap = std::max(xCap, std::pow(10.0, std::ceil(std::log10(static_cast<double>(total)))));
    ch.series.push_back(std::move(s));
  }
  xCap = std::min(xCap, 1e6);
  for (auto& s : ch.series)
    for (auto& p : s.points)
      if (p.first < 0) p.first = xCap;
  const char* labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"};
  for (int k = 0; k <= 6 && std::pow(10.0, k) <= xCap; ++k) ch.xTicks.emplace_back(std::pow(10.0, k), labels[k]);
  return renderChart(ch);
}

namespace {

std::string timeCharts(const nlohmann::json& r) {
  const auto& tl = r.contains("timeline") ? r["timeline"] : nlohmann::json::array();
  if (!tl.is_array() || tl.empty()) return "<p>No timeline (the run ended within a second).</p>\n";
  // Phase bands: each entry covers the second before its t.
  std::vector<Band> bands;
  for (const auto& e : tl) {
    std::string ph = e.value("phase", "");
    double t = num(e, "t");
    if (!bands.empty() && bands.back().label == ph) {
      bands.back().x1 = t;
      continue;
    }
    std::string color = ph == "login" ? "#dbeafe" : ph == "settle" ? "#fef9c3" : ph == "main" ? "#ecfdf5" : "#f1f5f9";
    bands.push_back({bands.empty() ? std::max(0.0, t - 1) : bands.back().x1, t, ph, color});
  }
  auto series = [&](const std::string& name, const char* key, double scale = 1, bool dropZero = false) {
    Series s;
    s.name = name;
    for (const auto& e : tl) {
      double v = num(e, key) * scale;
      if (dropZero && v == 0) v = kNaN;
      s.points.emplace_back(num(e, "t"), v);
    }
    return s;
  };
  auto chart = [&](std::string title, std::string yLabel, std::vector<Series> ss, bool logY = false) {
    Chart c;
    c.title = std::move(title);
    c.xLabel = "seconds since start";
    c.yLabel = std::move(yLabel);
    c.series = std::move(ss);
    c.bands = bands;
    c.logY = logY;
    return renderChart(c);
  };
  std::string out;
  out += chart("Logins per second", "logins/s",
               {series("logins/s", "logins"), series("failures + drops (cumulative)", "failures")});
  out += chart("Users online", "users", {series("online", "online")});
  out += chart("Messages per second", "msgs/s", {series("sent/s", "sent"), series("delivered/s", "delivered")});
  std::vector<Series> pres;
  if (tl[0].contains("presence_sent")) pres.push_back(series("presence changes sent/s", "presence_sent"));
  pres.push_back(series("presence received/s (fan-out)", "presence_received"));
  out += chart("Presence per second", "stanzas/s", std::move(pres));
  // Latency: seconds without messages are gaps (max == 0).
  std::vector<Series> lat{series("p50", "p50_us", 1e-3), series("p99", "p99_us", 1e-3), series("max", "max_us", 1e-3)};
  for (auto& s : lat)
    for (size_t i = 0; i < tl.size(); ++i)
      if (!(num(tl[i], "max_us") > 0)) s.points[i].second = kNaN;
  out += chart("Message latency per second", "latency (ms, log)", std::move(lat), true);
  bool srvKnown = std::any_of(tl.begin(), tl.end(), [](const nlohmann::json& e) { return num(e, "server_rss_kib") > 0; });
  out += chart("CPU (% of one core)", "% of a core",
               srvKnown ? std::vector<Series>{series("server", "server_cpu", 100), series("load generator", "loadgen_cpu", 100)}
                        : std::vector<Series>{series("load generator", "loadgen_cpu", 100)});
  if (srvKnown) out += chart("Server RSS", "MiB", {series("xmeshd RSS", "server_rss_kib", 1.0 / 1024, true)});
  return out;
}

std::string saturationChart(const nlohmann::json& sat) {
  Chart c;
  c.title = "Saturation: p99 per step vs rate";
  c.xLabel = "target rate (msgs/s)";
  c.yLabel = "p99 latency (ms, log)";
  c.logY = true;
  Series line{"p99 (all steps)", "#64748b", {}, false, false};
  Series held{"held", "#16a34a", {}, false, true};
  Series failed{"failed", "#dc2626", {}, false, true};
  for (const auto& s : sat["steps"]) {
    double x = num(s, "target"), y = num(s, "p99_us") / 1000.0;
    line.points.emplace_back(x, y);
    (s.value("held", false) ? held : failed).points.emplace_back(x, y);
  }
  c.series = {line, held, failed};
  double bound = num(sat, "p99_bound_ms");
  c.hLines.emplace_back(bound, "bound " + trimmed(bound, 2) + " ms");
  return renderChart(c);
}

// The failover drill: users down (and, dual, inactive sessions) per second with the
// commands marked, and the per-user downtime distribution of each step.
std::string drillSection(const nlohmann::json& r) {
  const auto& d = r["drill"];
  const auto& tl = r.contains("timeline") ? r["timeline"] : nlohmann::json::array();
  Chart c;
  c.title = "Users without an active session";
  c.xLabel = "seconds since start";
  c.yLabel = "users";
  Series down{"down", "#dc2626", {}, false, false};
  Series inactive{"inactive sessions bound", "#2563eb", {}, true, false};
  for (const auto& e : tl) {
    if (!e.contains("down")) continue;
    down.points.emplace_back(num(e, "t"), num(e, "down"));
    inactive.points.emplace_back(num(e, "t"), num(e, "inactive"));
  }
  c.series.push_back(std::move(down));
  if (d.value("dual", false)) c.series.push_back(std::move(inactive));
  std::string charts;
  for (const char* step : {"failover", "fallback"}) {
    if (!d.contains(step) || !d[step].value("ran", false)) continue;
    double at = num(d[step], "ran_at_s");
    c.bands.push_back({at, at + 0.5, step, "#fde68a"});
  }
  charts += renderChart(c);
  for (const char* step : {"failover", "fallback"})
    if (d.contains(step) && d[step].contains("downtime_histogram"))
      charts += renderDistribution(d[step]["downtime_histogram"], std::string("Downtime per user (") + step + ")");
  return "<h2>Failover drill</h2>\n<p class=\"note\">Downtime: from the moment a user's active path broke "
         "(connection closed or reset, deactivated, or a failover announced) until it was active again (activated, "
         "or bound after a re-login); one sample per affected user that came back. Messages of a step are those "
         "sent after its command (and before the next); lost excludes messages a sender skipped while down, and "
         "with XEP-0198 those in doubt (unacknowledged when the stream broke).</p>\n<div class=\"grid2\">\n" +
         charts + "</div>\n";
}

std::string cssBlock() {
  return R"(<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#0f172a;margin:0;background:#f8fafc}
main{max-width:1200px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:4px 0 2px} h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #cbd5e1;padding-bottom:3px}
.sub{color:#475569;margin-bottom:10px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;margin:6px 0}
.ok{background:#dcfce7;color:#166534}.bad{background:#fee2e2;color:#991b1b}
dl.meta{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:2px 14px;margin:8px 0}
dl.meta dt{color:#475569}dl.meta dd{margin:0;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px;word-break:break-all}
table.sum{border-collapse:collapse;background:#fff}
table.sum td{padding:2px 12px 2px 6px;border-bottom:1px solid #e2e8f0;vertical-align:top}
table.sum td:first-child{color:#334155;white-space:nowrap}
table.sum td:last-child{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px}
table.sum th{text-align:left;padding:8px 6px 2px;font-size:13px;color:#1e3a8a;background:#f8fafc}
tr.badrow td{background:#fee2e2}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}
svg.chart{width:100%;height:auto;background:#fff;border:1px solid #e2e8f0;border-radius:4px}
svg .ct{font-size:14px;font-weight:600;fill:#0f172a} svg .lg{font-size:11px;fill:#334155}
svg .tk{font-size:10px;fill:#475569} svg .al{font-size:11px;fill:#334155}
svg .grid{stroke:#e2e8f0;stroke-width:1} svg .axis{stroke:#94a3b8;stroke-width:1}
svg .band{font-size:9px;fill:#64748b} svg .hl{font-size:10px;fill:#b91c1c} svg .hl2{font-size:10px;fill:#334155}
.note{color:#475569;font-size:12px}
</style>
)";
}

std::string setting(const nlohmann::json& r, const char* key) {
  const auto& sc = r["scenario"];
  auto it = sc.find(key);
  return it != sc.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string renderHtmlReport(const nlohmann::json& r) {
  Summary sum = summarize(r);
  const auto& login = r["login"];
  const auto& msgs = r["messages"];
  uint64_t lost = msgs.value("lost", uint64_t{0}), dup = msgs.value("duplicated", uint64_t{0});
  uint64_t fails = login.value("failures", uint64_t{0}) + login.value("dropped_later", uint64_t{0});
  bool drillBad = drillHasProblems(r);
  bool ok = lost == 0 && dup == 0 && fails == 0 && login.value("all_online", false) && !drillBad;

  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>xmesh-loadgen: " +
                    escape(sum.heading) + "</title>\n" + cssBlock() + "</head><body><main>\n";
  out += "<h1>xmesh-loadgen &mdash; " + escape(setting(r, "name")) + " <small>(" + escape(setting(r, "kind")) +
         ")</small></h1>\n<div class=\"sub\">" + escape(sum.heading) + "</div>\n";
  out += std::string("<div class=\"verdict ") + (ok ? "ok\">OK: all users online, no message lost or duplicated"
                                                      : "bad\">PROBLEMS: " + std::to_string(fails) + " login failures/drops, " +
                                                            std::to_string(lost) + " lost, " + std::to_string(dup) +
                                                            " duplicated" + (drillBad ? "; the failover drill found problems" : "")) +
         "</div>\n";

  // Header.
  const auto& cache = login["scram_cache"];
  uint64_t preloaded = cache.value("preloaded_users", uint64_t{0}), misses = cache.value("misses", uint64_t{0});
  std::string cacheNote =
      preloaded ? "SCRAM salted passwords preloaded for " + std::to_string(preloaded) + " users" +
                      (setting(r, "keys").empty() ? "" : " from " + setting(r, "keys")) +
                      " (like real clients, PBKDF2 is not run per login); " + std::to_string(misses) +
                      " PBKDF2 runs during the run"
                : "no preloaded salted passwords: each worker runs PBKDF2 once per user and caches it (" +
                      std::to_string(misses) + " runs)";
  std::string pid = setting(r, "server_pid");
  std::vector<std::pair<std::string, std::string>> meta{
      {"scenario", setting(r, "name") + " (" + setting(r, "kind") + ")"},
      {"started", r.value("started_at", std::string("?"))},
      {"users", setting(r, "users") + " (" + setting(r, "user_pattern") + ", from " + setting(r, "first") + ")"},
      {"workers", std::to_string(r.value("workers", 0)) + " processes"},
      {"server", (setting(r, "topology").empty()
                      ? setting(r, "host") + ":" + setting(r, "port")
                      : "topology " + setting(r, "topology") + " (connect " + setting(r, "connect") + ")") +
                     " (" + setting(r, "domain") + ")" + (pid.empty() || pid == "0" ? "" : ", pid " + pid)},
      {"mechanism", setting(r, "mechanism") + (setting(r, "sm") == "true" ? ", XEP-0198" : "")},
      {"duration", setting(r, "duration") + " s main phase, " + trimmed(num(r, "wall_s"), 1) + " s wall"},
      {"profile", setting(r, "kind") == "steady"
                      ? setting(r, "msgs_per_user_hour") + " msgs and " + setting(r, "presence_per_user_hour") +
                            " presence changes per user per hour"
                      : setting(r, "kind") == "saturation" ? "steps of " + setting(r, "sat_step_rate") + " msgs/s every " +
                                                                  setting(r, "sat_step_seconds") + " s"
                                                            : "-"},
      {"machine", r.contains("machine") ? std::to_string(r["machine"].value("cores", 0u)) + " cores, load average " +
                                               trimmed(num(r["machine"], "loadavg_at_start"), 1) + " at start, " +
                                               trimmed(num(r["machine"], "loadavg_at_end"), 1) + " at end"
                                         : "-"},
      {"population", setting(r, "population").empty() ? "ring rosters (no file)" : setting(r, "population")},
      {"SCRAM cache", cacheNote},
  };
  out += "<dl class=\"meta\">";
  for (const auto& [k, v] : meta) out += "<dt>" + escape(k) + "</dt><dd>" + escape(v) + "</dd>";
  out += "</dl>\n";

  // Summary table (the same rows as the terminal table).
  out += "<h2>Summary</h2>\n<table class=\"sum\">\n";
  for (const auto& sec : sum.sections) {
    out += "<tr><th colspan=\"2\">" + escape(sec.title.empty() ? "overall" : sec.title) + "</th></tr>\n";
    for (size_t i = 0; i < sec.rows.size(); ++i)
      out += std::string(sec.bad[i] ? "<tr class=\"badrow\">" : "<tr>") + "<td>" + escape(sec.rows[i].first) +
             "</td><td>" + escape(sec.rows[i].second) + "</td></tr>\n";
  }
  out += "</table>\n";

  out += "<h2>Over time</h2>\n<p class=\"note\">One point per second (the coordinator's merged worker reports); "
         "shaded bands are the phases (login, settle, main, drain).</p>\n<div class=\"grid2\">\n" + timeCharts(r) + "</div>\n";

  out += "<h2>Latency distribution</h2>\n<p class=\"note\">From the merged log-linear histogram of every delivered "
         "message (exact counts per bucket; a bucket spans 1/64 of a power of two).</p>\n<div class=\"grid2\">\n";
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* mh = msgs.contains("latency_histogram") ? &msgs["latency_histogram"] : &kEmpty;
  const nlohmann::json* lh = login.contains("latency_histogram") ? &login["latency_histogram"] : &kEmpty;
  out += renderDistribution(*mh, "Message latency histogram");
  out += renderSpectrum({{"message latency", mh}, {"login latency", lh}});
  out += "</div>\n";

  if (r.contains("drill")) out += drillSection(r);
  if (r.contains("saturation")) {
    out += "<h2>Saturation</h2>\n<div class=\"grid2\">\n" + saturationChart(r["saturation"]) + "</div>\n";
  }
  out += "<p class=\"note\">Generated by xmesh-loadgen; the same numbers are in report.json next to this file.</p>\n";
  return out + "</main></body></html>\n";
}

}  // namespace xmesh::loadgen::html
