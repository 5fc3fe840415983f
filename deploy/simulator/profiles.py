"""How units of each kind behave: what activities they hold, how often, and what they count. Pure."""
from __future__ import annotations

import math
import random
from datetime import date

# Relative weight of each focus area by unit kind (districts publicise and serve, bureaus
# inspect, associations train and exchange, enterprise groups improve).
FOCUS_MIX: dict[str, dict[str, int]] = {
    "district": {"publicity": 4, "service": 3, "supervision": 2, "exchange": 1, "improvement": 1},
    "bureau": {"supervision": 5, "publicity": 2, "service": 2, "improvement": 1},
    "association": {"exchange": 4, "improvement": 3, "publicity": 1, "service": 1},
    "enterprise_group": {"improvement": 4, "service": 2, "exchange": 1, "publicity": 1},
}

# Activities per unit per weekday at scale 1: about 1,000 in the month, as in the 2022 circular.
DAILY_RATE = {"district": 0.8, "bureau": 0.6, "association": 0.4, "enterprise_group": 0.5}

TITLES = {
    "publicity": ("质量月启动仪式", "质量宣传进社区", "质量知识竞赛", "质量公益广告展播", "品牌故事宣讲会"),
    "exchange": ("质量管理经验交流会", "长三角质量论坛", "标准化工作研讨会", "质量开放日"),
    "improvement": ("首席质量官培训", "质量攻关成果发布", "QC小组活动", "卓越绩效自评培训"),
    "supervision": ("产品质量监督抽查", "重点工程质量检查", "计量器具专项检查", "特种设备安全检查"),
    "service": ("质量技术帮扶", "一站式质量服务", "检验检测开放日", "质量志愿服务"),
}


def weekday_rhythm(day: date) -> float:
    """Units work weekdays; the kick-off days and the award ceremony week are busier."""
    factor = (1.25, 1.2, 1.2, 1.2, 1.1, 0.45, 0.25)[day.weekday()]
    if day.day <= 3 or 26 <= day.day <= 29:
        factor *= 1.5
    return factor


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: exact and deterministic for the small means used here."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def pick_focus(rng: random.Random, kind: str) -> str:
    mix = FOCUS_MIX.get(kind, FOCUS_MIX["district"])
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def activity_metrics(rng: random.Random, focus: str) -> dict[str, int | float]:
    """What one activity counts; always consistent (participants >= enterprises, and so on)."""
    enterprises = rng.randint(1, 25)
    m: dict[str, int | float] = {"activities": 1, "enterprises": enterprises}
    if focus == "publicity":
        m |= {"participants": enterprises + rng.randint(20, 600), "materials": rng.randint(50, 3000)}
        if rng.random() < 0.4:
            m["articles"] = rng.randint(1, 3)
        if rng.random() < 0.3:
            m["ads"] = rng.randint(1, 8)
    elif focus == "exchange":
        m["participants"] = enterprises + rng.randint(20, 300)
    elif focus == "improvement":
        trained = rng.randint(1, enterprises)
        m |= {"participants": enterprises + rng.randint(10, 200), "trained_enterprises": trained,
              "trainees": trained + rng.randint(5, 80)}
        if rng.random() < 0.3:
            m["improvement_projects"] = rng.randint(1, 3)
            m["profit_added"] = round(rng.randint(1, 150) / 100, 2)
    elif focus == "supervision":
        inspections = rng.randint(enterprises, enterprises + 40)
        m |= {"participants": enterprises + rng.randint(5, 60), "inspections": inspections,
              "inspector_trips": rng.randint(2, 30), "samples_checked": rng.randint(10, 500)}
        if rng.random() < 0.3:
            m["rectification_orders"] = rng.randint(1, 3)
    else:  # service
        m |= {"participants": enterprises + rng.randint(10, 300), "enterprises_helped": rng.randint(1, enterprises),
              "citizens_served": rng.randint(20, 400)}
        if rng.random() < 0.3:
            m["volunteers"] = rng.randint(1, 6)
    return m
