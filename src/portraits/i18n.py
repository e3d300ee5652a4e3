"""Words people read, in English and zh-CN. Keys are stable; add both languages together."""

from __future__ import annotations

from typing import Final, Literal

Lang = Literal["en", "zh-CN"]

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "source": ("Source", "数据源"),
    "entity": ("Entity", "实体"),
    "status": ("Status", "状态"),
    "rows_read": ("Read", "读取行数"),
    "accepted": ("Accepted", "接收"),
    "rejected": ("Rejected", "拒收"),
    "duplicates": ("Duplicates", "重复"),
    "nulled": ("Values cleared", "值已清除"),
    "filled": ("Filled", "已填充"),
    "flagged": ("Flagged", "已标记"),
    "new": ("New", "新增"),
    "changed": ("Changed", "变更"),
    "unchanged": ("Unchanged", "未变"),
    "pass_rate": ("Pass rate", "质量通过率"),
    "integration_rate": ("Integration rate", "标识整合率"),
    "seconds": ("Seconds", "耗时（秒）"),
    "rule": ("Rule", "规则"),
    "field": ("Field", "字段"),
    "action": ("Action", "处理"),
    "rows": ("Rows", "行数"),
    "completeness": ("Completeness", "完整度"),
    "file": ("File", "文件"),
    "row": ("Row", "行号"),
    "value": ("Value", "值"),
    "reason": ("Reason", "原因"),
    "load_id": ("Load", "加载批次"),
    "started_at": ("Started", "开始时间"),
    "table": ("Table", "表"),
    "quality_title": ("Quality of the load", "本次加载数据质量"),
    "rules_title": ("What the cleaning rules found", "清洗规则发现的问题"),
    "completeness_title": ("Field completeness (accepted rows)", "字段完整度（已接收行）"),
    "history_title": ("Load history", "加载历史"),
    "rejects_title": ("Rejected and corrected values", "拒收与修正记录"),
    "tables_title": ("Tables in the workspace", "工作区中的表"),
    "generated": ("Generated", "已生成"),
    "demo_done": ("Demo finished in {seconds:.1f} s. Workspace: {path}",
                  "演示完成，用时 {seconds:.1f} 秒。工作区：{path}"),
    "workspace_created": ("Created workspace {path}", "已创建工作区 {path}"),
    "spec_ok": ("{path} is valid: {sources} sources", "{path} 有效：{sources} 个数据源"),
    "skipped": ("skipped", "已跳过"),
    "ok": ("ok", "成功"),
    "failed": ("failed", "失败"),
    "error": ("Error", "错误"),
    # Cleaning rules, as a person would name them.
    "rule.unparsable_date": ("Date cannot be read", "日期无法解析"),
    "rule.unparsable_timestamp": ("Date-time cannot be read", "时间无法解析"),
    "rule.not_a_number": ("Not a number", "不是数字"),
    "rule.not_a_boolean": ("Not yes/no", "不是是/否值"),
    "rule.invalid_phone": ("Invalid phone number", "手机号无效"),
    "rule.invalid_email": ("Invalid e-mail", "邮箱无效"),
    "rule.unknown_value": ("Value not allowed", "取值不在允许范围"),
    "rule.negative_amount": ("Negative amount", "金额为负"),
    "rule.future_timestamp": ("Time in the future", "时间在未来"),
    "rule.before_2000": ("Time before 2000", "时间早于 2000 年"),
    "rule.age_out_of_range": ("Age outside 0-120", "年龄超出 0-120"),
    "rule.zero_or_negative_quantity": ("Quantity 0 or less", "数量为 0 或负数"),
    "rule.rating_out_of_range": ("Rating outside 1-5", "评分超出 1-5"),
    "rule.missing_required": ("Required value missing", "必填值缺失"),
    "rule.missing_value": ("Value missing", "值缺失"),
    "rule.duplicate": ("Duplicate row", "重复行"),
    "rule.duplicate_key": ("Duplicate key", "主键重复"),
    "rule.wrong_field_count": ("Wrong number of fields", "字段数不符"),
    "rule.malformed_json": ("Not valid JSON", "JSON 格式错误"),
    "action.rejected": ("row rejected", "整行拒收"),
    "action.nulled": ("value cleared", "清除该值"),
    "action.filled": ("value filled", "填充该值"),
    "action.flagged": ("flagged", "标记"),
}


def text(key: str, lang: Lang = "en", **values: object) -> str:
    """The message ``key`` in ``lang``; unknown keys come back as they are."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key.split(".", 1)[-1]
    message = pair[1] if lang == "zh-CN" else pair[0]
    return message.format(**values) if values else message
