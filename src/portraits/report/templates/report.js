/* Portraits report: draw every chart container with Apache ECharts (SVG renderer, so
   print is sharp) and redraw at the paper's width before printing. */
(function () {
  "use strict";
  var options = JSON.parse(document.getElementById("portraits-charts").textContent);
  var charts = [];

  function unitFormatter(unit) {
    return function (value) {
      if (value === null || value === undefined || value === "-") { return "–"; }
      var number = Array.isArray(value) ? value[value.length - 1] : value;
      return (typeof number === "number" ? number.toLocaleString() : String(number)) + unit;
    };
  }

  function prepare(option) {
    var series = option.series || [];
    var kind = series.length ? series[0].type : "";
    var hasSubtext = option.title && option.title.subtext;
    var top = hasSubtext ? 72 : 48;
    if ((option.xAxis || option.yAxis) && !option.grid) {
      option.grid = {top: top + 8, left: 16, right: 64, bottom: option.legend ? 48 : 16,
                     containLabel: true};
    }
    if (option.title) {
      option.title.left = option.title.left || 8;
      option.title.textStyle = option.title.textStyle || {fontSize: 15, fontWeight: 600};
      option.title.subtextStyle = option.title.subtextStyle ||
        {fontSize: 12, color: "#6b7280", width: 640, overflow: "break"};
    }
    if (option.visualMap && !Array.isArray(option.visualMap) && !option.visualMap.inRange) {
      option.visualMap.inRange = {color: ["#eef3fb", "#5470c6"]};  // as the PDF's Blues
    }
    if (kind === "pie") {
      series[0].center = series[0].center || ["50%", "58%"];
    } else if (kind === "sankey" || kind === "funnel") {
      series[0].top = series[0].top || top + 8;
      series[0].bottom = series[0].bottom || 16;
    }
    if (series.length && series[0].unit && option.tooltip &&
        !option.tooltip.valueFormatter) {
      option.tooltip.valueFormatter = unitFormatter(series[0].unit);
    }
    return option;
  }

  // The SVG scales with its container when the page is printed without a resize
  // (print to PDF from a headless browser fires no beforeprint).
  function fitToBox(el) {
    var svg = el.querySelector("svg");
    if (svg) {
      svg.setAttribute("viewBox", "0 0 " + svg.getAttribute("width") + " " +
                       svg.getAttribute("height"));
      svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    }
  }

  var containers = document.querySelectorAll("[data-chart]");
  Array.prototype.forEach.call(containers, function (el) {
    var chart = echarts.init(el, null, {renderer: "svg"});
    chart.on("finished", function () { fitToBox(el); });
    chart.setOption(prepare(options[Number(el.getAttribute("data-chart"))]));
    charts.push(chart);
  });

  function resizeAll() {
    charts.forEach(function (chart) { chart.resize({animation: {duration: 0}}); });
  }
  // Before printing the layout is still the screen's: draw at the A4 chart size
  // (182 mm by 95 mm at 96 px per inch), as print.css lays the containers out.
  function resizeForPrint() {
    charts.forEach(function (chart) {
      chart.resize({width: 688, height: 359, animation: {duration: 0}});
    });
  }
  window.addEventListener("resize", resizeAll);
  window.addEventListener("beforeprint", resizeForPrint);
  window.addEventListener("afterprint", resizeAll);
  if (window.matchMedia) {
    var print = window.matchMedia("print");
    if (print.addEventListener) {
      print.addEventListener("change", function (event) {
        if (event.matches) { resizeForPrint(); } else { resizeAll(); }
      });
    }
  }
  window.portraitsCharts = charts;
}());
