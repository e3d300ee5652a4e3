"""The monthly user-insight report (用户洞察报告, R8.4): sections computed from the
workspace (:mod:`portraits.report.build`), rendered as self-contained HTML with Apache
ECharts and as PDF with static charts (:mod:`portraits.report.render`)."""
