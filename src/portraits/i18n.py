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
    "profiles_title": ("{count:,} profiles built — completeness",
                       "已生成 {count:,} 份画像 — 完整度"),
    "population_customers": ("Customers", "注册客户"),
    "population_visitors": ("Visitors", "匿名访客"),
    "population_all": ("All", "全部"),
    "completeness_overall": ("Overall (mean)", "整体（平均）"),
    "completeness_profiles_at_target": ("Profiles ≥ 85%", "完整度 ≥ 85% 的画像"),
    "generated": ("Generated", "已生成"),
    "demo_done": ("Demo finished in {seconds:.1f} s. Workspace: {path}",
                  "演示完成，用时 {seconds:.1f} 秒。工作区：{path}"),
    "workspace_created": ("Created workspace {path}", "已创建工作区 {path}"),
    "spec_ok": ("{path} is valid: {sources} sources", "{path} 有效：{sources} 个数据源"),
    "skipped": ("skipped", "已跳过"),
    "ok": ("ok", "成功"),
    "failed": ("failed", "失败"),
    "error": ("Error", "错误"),
    # Identity resolution.
    "identity_summary": ("{records:,} records → {people:,} people",
                         "{records:,} 条记录 → {people:,} 位客户"),
    "identity_title": ("Identity resolution", "身份识别（ID-Mapping）"),
    "records": ("Records", "记录数"),
    "identifiers": ("Identifiers", "标识符"),
    "people": ("People", "客户数"),
    "new_people": ("New people", "新客户"),
    "merges": ("Merges", "合并次数"),
    "merged_customers": ("Customers merged", "被合并的客户"),
    "splits": ("Splits", "拆分"),
    "matched_pairs": ("Records matched by similarity", "相似度匹配的记录对"),
    "review_pairs": ("Pairs to review", "待人工审核的记录对"),
    "review_written": ("{pairs:,} pairs to review written to {path}; fill in the decision "
                       "column (match / no_match) and run `portraits identity review --apply "
                       "{path}`",
                       "已将 {pairs:,} 对待审核记录写入 {path}；请在 decision 列填写 "
                       "match（同一人）或 no_match（不同人），然后运行 "
                       "`portraits identity review --apply {path}`"),
    "junk": ("junk", "无效值"),
    "shared": ("shared", "共用"),
    "blocked": ("blocked", "已屏蔽"),
    "used": ("used", "已使用"),
    "unknown": ("unknown", "未知"),
    "merge": ("merge", "合并"),
    "split": ("split", "拆分"),
    "explain_head": ("{identifier} belongs to customer {customer}: {identifiers} identifiers, "
                     "{merges} merges", "{identifier} 属于客户 {customer}：{identifiers} 个标识符，"
                     "{merges} 次合并"),
    "explain_none": ("{identifier} is not used to identify anyone: {status} ({reason})",
                     "{identifier} 未用于识别客户：{status}（{reason}）"),
    "explain_identifiers": ("Identifiers", "标识符"),
    "explain_steps": ("How the person was assembled (merge history)", "合并过程（合并历史）"),
    "explain_ignored": ("Identifiers seen with this person but not used",
                        "与该客户一同出现但未使用的标识符"),
    "id_type": ("Type", "类型"),
    "first_seen": ("First seen", "首次出现"),
    "last_seen": ("Last seen", "最近出现"),
    "step": ("#", "序号"),
    "kind": ("Kind", "类型"),
    "seen_at": ("When", "时间"),
    "record": ("Record", "记录"),
    "link": ("Link", "关联"),
    "customers": ("Customers", "客户"),
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
    # Profile lookup (portraits profile show).
    "lookup_not_found": ("no customer has {identifier}{hint}; look up a phone, e-mail, member "
                         "id, type:value or a customer id (C00000001)",
                         "没有客户拥有 {identifier}{hint}；可按手机号、邮箱、会员号、类型:值 "
                         "或客户编号（C00000001）查询"),
    "lookup_ambiguous": ("{identifier} matches {count} customers; give type:value "
                         "(member_id:…) or a customer id to choose one",
                         "{identifier} 匹配到 {count} 位客户；请用 类型:值（如 member_id:…）"
                         "或客户编号指定"),
    "lookup_unusable": ("{identifier} is {status} ({reason}): it identifies nobody, so it "
                        "finds no customer",
                        "{identifier} 为{status}标识（{reason}），不用于识别任何客户，"
                        "因此查不到客户"),
    "lookup_seen_with": ("; it was seen with {count} customers", "；曾与 {count} 位客户一同出现"),
    "customer": ("Customer", "客户"),
    "portrait_head": ("Customer {customer}", "客户 {customer}"),
    "found_by": ("Found by {identifier}", "匹配标识：{identifier}"),
    "completeness_line": ("Completeness {percent:.1f}%{missing}",
                          "画像完整度 {percent:.1f}%{missing}"),
    "missing": ("missing", "缺失"),
    "contactable": ("Contactable", "可触达"),
    "portrait_counts": ("{identifiers} identifiers, {records} customer records",
                        "{identifiers} 个标识符，{records} 条客户档案"),
    "records_title": ("Customer records", "客户档案"),
    "no_profile": ("No profile for this customer yet: build profiles with "
                   "ws.profiles.build(ws.identity.customer_ids()).",
                   "该客户尚无画像：请先用 ws.profiles.build(ws.identity.customer_ids()) "
                   "构建画像。"),
    "interest_affinities": ("Interest affinities", "兴趣强度"),
    "timeline_title": ("Most recent events and orders ({count})", "最近的行为与订单（{count} 条）"),
    "time": ("Time", "时间"),
    "event": ("event", "行为"),
    "order": ("order", "订单"),
    "event_name": ("Event / status", "事件 / 订单状态"),
    "amount": ("Amount", "金额"),
    "product": ("Product", "商品"),
    "category": ("Category", "类目"),
    "channel": ("Channel", "渠道"),
    "platform": ("Platform", "平台"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
}


def text(key: str, lang: Lang = "en", **values: object) -> str:
    """The message ``key`` in ``lang``; unknown keys come back as they are."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key.split(".", 1)[-1]
    message = pair[1] if lang == "zh-CN" else pair[0]
    return message.format(**values) if values else message
