"""Invented customer names in the language mix of the input: Chinese (surname + one or two given
characters) and English (given name + family name), from fixed lists of common name parts, never
from the input's names, and never equal to a real name."""

from __future__ import annotations

import re

import numpy as np

__all__ = ["NameMaker"]

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ZH_SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_ZH_GIVEN = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏飞宇浩然欣怡梓涵子轩一诺雨泽思远嘉琪晨曦俊博文昊天佳颖婷雪慧晶波斌辉亮建国志明海燕宏伟晓东丹阳"
)
_EN_GIVEN = (
    "Olivia Emma Ava Sophia Mia Amelia Harper Evelyn Abigail Emily Ella Grace Chloe Lily Zoe Nora Hannah Lucy "
    "Liam Noah Oliver Elijah James William Benjamin Lucas Henry Alexander Daniel Matthew Jack Owen Ryan Leo "
    "Nathan Samuel David Joseph Isaac Adam Ethan Aaron Kevin Brian Eric Peter Simon Victor Ivy Ruby Alice"
).split()
_EN_FAMILY = (
    "Smith Johnson Brown Taylor Miller Wilson Moore Clark Lewis Walker Hall Allen Young King Wright Scott Green "
    "Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker Collins Edwards Stewart "
    "Morris Cook Rogers Reed Bell Murphy Bailey Cooper Ward Cox Gray Wood Watson Brooks Kelly Price Wang Li Zhang "
    "Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo Lin Luo Tang Song"
).split()


class NameMaker:
    """Draw names in the input's language mix, rejecting any real one.

    Parameters
    ----------
    real_names : iterable of str
        The input's names: their share of Chinese names sets the mix, and none of them is ever drawn.
    """

    def __init__(self, real_names):
        real = [str(n) for n in real_names if n is not None and str(n) != "nan"]
        self.real_ = set(real)
        self.chinese_share_ = float(np.mean([bool(_CJK.search(n)) for n in real])) if real else 0.0

    def draw(self, n: int, rng: np.random.Generator) -> list[str]:
        out = []
        while len(out) < n:
            name = self._zh(rng) if rng.random() < self.chinese_share_ else self._en(rng)
            if name not in self.real_:
                out.append(name)
        return out

    @staticmethod
    def _zh(rng: np.random.Generator) -> str:
        given = "".join(_ZH_GIVEN[int(i)] for i in rng.integers(len(_ZH_GIVEN), size=int(rng.integers(1, 3))))
        return _ZH_SURNAMES[int(rng.integers(len(_ZH_SURNAMES)))] + given

    @staticmethod
    def _en(rng: np.random.Generator) -> str:
        return f"{_EN_GIVEN[int(rng.integers(len(_EN_GIVEN)))]} {_EN_FAMILY[int(rng.integers(len(_EN_FAMILY)))]}"
