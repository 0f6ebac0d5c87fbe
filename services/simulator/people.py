"""Invented applicants: names, resident ID numbers with a valid check digit, phones."""

from __future__ import annotations

import random
from datetime import date, timedelta

SURNAMES = ("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯"
            "于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚鹏华红玲飞兰萍雪梅宇浩然欣怡子涵博文"
DISTRICTS = ("220402", "220403", "220421", "220422")  # the seed city's districts and counties
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2)."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def applicant(rng: random.Random) -> dict[str, str]:
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    first17 = f"{rng.choice(DISTRICTS)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return {"name": name, "id_number": first17 + id_check_digit(first17),
            "phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"}
