"""The language check: the packaged encoder reads English; say when most texts are not."""

from __future__ import annotations

from cx_core.reviews.language import check_language

PT = [
    "O vestido é lindo, mas o tamanho ficou pequeno demais para mim.",
    "Chegou rápido e a qualidade do tecido é excelente, recomendo.",
    "Produto veio com defeito e o atendimento não resolveu nada.",
    "Gostei muito da cor, porém a costura está mal feita.",
]
ES = [
    "Me encanta esta camisa, la tela es muy suave y cómoda.",
    "El envío tardó tres semanas y la caja llegó rota.",
    "No lo recomiendo, la calidad es pésima para el precio.",
]
ZH = [
    "这件衣服质量很好，穿起来非常舒服，我很喜欢。",
    "快递太慢了，等了两个星期才收到，包装也破了。",
    "颜色和图片不一样，尺码偏小，不推荐购买。",
]
EN = [
    "The dress is lovely but the size runs small for me.",
    "Arrived quickly and the fabric quality is excellent.",
    "Came broken and customer service never answered my emails.",
    "Great colour, though the stitching is a bit sloppy.",
]


def test_mostly_foreign_texts_are_flagged():
    check = check_language(PT + ES + ZH + EN[:2])
    assert check.mostly_not_english and check.english_share < 0.5
    assert {"pt", "es", "zh"} <= set(check.languages)
    assert "not English" in check.message and "n-gram" in check.message


def test_english_texts_pass_and_short_ones_are_not_judged():
    check = check_language(EN + PT[:1] + ["ok", "nice"])
    assert not check.mostly_not_english and check.message == "" and check.judged == 5
    assert check_language(["ok", ""]).judged == 0
