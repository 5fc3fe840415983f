"""A campaign whose exact totals are consistent with the 2022 circular, reported by the units the
circular credits: the reference data set for the circular's tests."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from services.aggregation.totals import Entry, scale
from shared.events import ActivityReport, ReportValidated
from shared.refdata import districts

HEADLINE_2022 = {"activities": 1032, "enterprises": 10230, "participants": 196_500, "articles": 196, "materials": 102_000}

# (unit, report id, district, focus area, title, metrics): the figures the circular attributes.
CREDITED = [
    ("union", "volunteer-day", None, "publicity", "“跟着劳模做志愿服务日”活动",
     {"activities": 1, "participants": 2000, "volunteers": 104, "citizens_served": 21000}),
    ("group-airport", "ads", None, "publicity", "“质量月”公益广告发布", {"activities": 1, "ads": 200}),
    ("group-railway", "ads", None, "publicity", "“质量月”公益广告发布", {"activities": 1, "ads": 170}),
    ("group-metro", "ads", None, "publicity", "“质量月”公益广告发布", {"activities": 1, "ads": 142}),
    ("samr", "course-videos", None, "service", "质量基础课程视频发布", {"activities": 1, "course_views": 7300}),
    ("samr", "sme-training", None, "service", "中小企业先进质量管理方法和工具公益培训",
     {"activities": 1, "participants": 11000, "trained_enterprises": 2050, "trainees": 11000}),
    ("samr", "one-stop", None, "service", "质量基础设施“一站式”服务平台建设",
     {"one_stop_platforms": 40, "entities_served": 49000, "enterprises_helped": 2100}),
    ("commerce", "cqo-pilot", "huangpu", "improvement", "商贸领域首席质量官扩大试点",
     {"activities": 1, "chief_quality_officers": 250}),
    ("sasac", "cqo-training", None, "improvement", "首席质量官培训", {"activities": 1, "chief_quality_officers": 170}),
    ("samr", "key-products", None, "improvement", "重点产品质量攻关",
     {"improvement_enterprises": 100, "improvement_projects": 130, "key_industry_projects": 115,
      "profit_added": Decimal("30.00"), "fx_saved": Decimal("4.00"), "energy_saved": Decimal("5.00")}),
    ("eitc", "key-products", None, "improvement", "重点产品质量攻关",
     {"improvement_enterprises": 68, "improvement_projects": 82, "key_industry_projects": 73,
      "profit_added": Decimal("24.77"), "fx_saved": Decimal("3.78"), "energy_saved": Decimal("3.46")}),
    ("samr", "consumer-inspections", None, "supervision", "“质量为民”消费维权专项检查",
     {"activities": 1, "inspections": 2600}),
    ("agriculture", "farm-inspections", None, "supervision", "农资农机专项检查", {"activities": 1, "inspections": 1900}),
    ("pudong", "district-inspections", "pudong", "supervision", "区级质量安全检查", {"activities": 1, "inspections": 400}),
    ("water", "works-check", None, "supervision", "水务建设工程质量月综合大检查",
     {"activities": 1, "works_inspected": 51, "rectification_orders": 34}),
    ("ecology", "proficiency", None, "supervision", "“环境空气颗粒物中重金属铅测定”能力验证项目初测",
     {"activities": 1, "monitoring_institutions": 62}),
    ("greening", "city-monitoring", None, "supervision", "市容环境质量监测",
     {"activities": 1, "inspector_trips": 438, "projects_sampled": 111, "samples_checked": 19672}),
]

# Who the 2022 circular credits with each figure, in the order it names them.
ATTRIBUTED_2022 = {
    "volunteers": ["union"], "citizens_served": ["union"], "ads": ["group-airport", "group-railway", "group-metro"],
    "course_views": ["samr"], "trained_enterprises": ["samr"], "trainees": ["samr"], "one_stop_platforms": ["samr"],
    "entities_served": ["samr"], "enterprises_helped": ["samr"], "chief_quality_officers": ["commerce", "sasac"],
    **{m: ["samr", "eitc"] for m in ("improvement_enterprises", "improvement_projects", "key_industry_projects",
                                      "profit_added", "fx_saved", "energy_saved")},
    "inspections": ["samr", "agriculture"], "works_inspected": ["water"], "rectification_orders": ["water"],
    "monitoring_institutions": ["ecology"], "inspector_trips": ["greening"], "projects_sampled": ["greening"],
    "samples_checked": ["greening"],
}
FOCUS = ["publicity", "exchange", "improvement", "supervision", "service"]


def district_reports() -> list[tuple]:
    """Each district's month of activities, bringing the headline figures to the 2022 totals;
    earlier districts in units.csv report more (Pudong most)."""
    left = dict(HEADLINE_2022)
    for *_, figures in CREDITED:
        for metric in left:
            left[metric] -= figures.get(metric, 0)
    names = list(districts())
    weights = list(range(len(names), 0, -1))
    shares = {m: [v * w // sum(weights) for w in weights] for m, v in left.items()}
    for metric, parts in shares.items():
        parts[0] += left[metric] - sum(parts)
    return [
        (d, "month", d, FOCUS[i % len(FOCUS)], f"{districts()[d].name_zh}“质量月”系列活动",
         {m: shares[m][i] for m in left})
        for i, d in enumerate(names)
    ]


def rows() -> list[tuple]:
    return CREDITED + district_reports()


T0 = datetime(2022, 9, 5, 10, tzinfo=timezone(timedelta(hours=8)))


def entries(year_offset: int = 0) -> list[Entry]:
    return [
        Entry(unit_id=u, report_id=r, version=1, district_id=d, focus_area=f, day=f"{2022 + year_offset}-09-05",
              title=t, metrics={m: scale(m, v) for m, v in ms.items()}, withdrawn=False,
              campaign_time=T0.isoformat())
        for u, r, d, f, t, ms in rows()
    ]


def verdict(unit, report_id, district, focus, title, figures, version: int = 1, withdrawn: bool = False) -> ReportValidated:
    report = ActivityReport(
        report_id=report_id, version=version, title=title, focus_area=focus, started_on=date(2022, 9, 5),
        metrics=figures, withdrawn=withdrawn,
    )
    return ReportValidated(
        received_at=1.0, campaign_time=T0 + timedelta(minutes=version), source_event_id=f"{unit}/{report_id}/{version}",
        submission_id="s", unit_id=unit, district_id=district, report=report, verdict="accepted",
    )


def verdicts() -> list[ReportValidated]:
    return [verdict(*row) for row in rows()]
