"""Reading the corpus: the five seed articles exactly, every encoding and format a user's
collection may hold, and the cleaning rules on pages from other sites."""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from searcher.corpus import Article, Corpus, Source, SourceError, content_hash
from searcher.corpus.clean import parse_date
from searcher.corpus.sources import read_article, scan_file
from searcher.errors import SearcherError
from tests.conftest import CORPUS

SEED_IDS = sorted(p.stem for p in CORPUS.glob("*.txt"))


@pytest.fixture(scope="module")
def seeds() -> dict[str, Article]:
    articles = {}
    for source in Corpus(CORPUS).sources():
        assert isinstance(source, Source), source
        articles[source.id[:3]] = source.load()
    assert sorted(articles) == ["000", "001", "002", "003", "004"]
    return articles


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def article_text(*paragraphs: str) -> str:
    return "\n\n".join(paragraphs) + "\n"


BODY_1 = (
    "Đảng bộ tỉnh Bình Thuận hiện có 463 tổ chức cơ sở Đảng với 41.782 đảng viên; trong đó, "
    "cán bộ thuộc diện Ban Thường vụ Tỉnh ủy quản lý có 370 đồng chí, nhiều người đã được luân chuyển."
)
BODY_2 = (
    "Đợt sinh hoạt chính trị đặt ra yêu cầu mỗi cá nhân nhận thức đầy đủ, sâu sắc hơn về niềm vinh dự, "
    "tự hào, danh dự và trách nhiệm của người cán bộ, đảng viên trước tổ chức và nhân dân."
)
BODY_3 = "Ngay khi phát động, các chi bộ trên địa bàn tỉnh đã có nhiều cách làm sáng tạo."


# ---------------------------------------------------------------------------------------
# The seed articles: metadata
# ---------------------------------------------------------------------------------------

SEED_METADATA = {
    "000": ("Chữa căn bệnh “sợ trách nhiệm” – cách làm từ Bình Thuận. Kỳ 3", "2024-10-30", "THANH NHÀN – KIỀU LINH", None),
    "001": (
        "Chấn chỉnh tình trạng né tránh trách nhiệm - Bài cuối: Tháo điểm nghẽn, khơi thông trách nhiệm",
        None,
        "Thanh Phúc",
        "http://baotuyenquang.com.vn/chan-chinh-tinh-trang-ne-tranh-trach-nhiem-bai-cuoi-thao-diem-nghen-khoi-thong-trach-nhiem-210296.html",
    ),
    "002": (
        "Cán bộ “7 dám” và việc thực hiện “công việc gốc” của Đảng:Bài 3: Siết chặt kỷ cương, kỷ luật đi đôi với "
        "khuyến khích cán bộ đổi mới",
        "2023-10-22",
        "Hương Ly",
        None,
    ),
    "003": (
        "Chấn chỉnh, khắc phục tình trạng né tránh, sợ trách nhiệm trong cán bộ, đảng viên, công chức",
        "2024-02-21",
        "Thành Trung",
        None,
    ),
    "004": ("Thực hiện trách nhiệm nêu gương: Quyết tâm của Đảng bộ tỉnh", "2020-02-18", "PHÙNG KHIÊM", None),
}


@pytest.mark.parametrize("seed", sorted(SEED_METADATA))
def test_seed_metadata(seeds, seed):
    title, date, author, url = SEED_METADATA[seed]
    article = seeds[seed]
    assert (article.title, article.date, article.author, article.url) == (title, date, author, url)


def test_seed_ids_are_the_file_names(seeds):
    assert sorted(a.id for a in seeds.values()) == SEED_IDS


def test_seed_001_names_its_source(seeds):
    assert seeds["001"].source == "Tuyên Quang"


@pytest.mark.parametrize("seed", sorted(SEED_METADATA))
def test_the_headline_is_paragraph_one_and_appears_once(seeds, seed):
    article = seeds[seed]
    assert article.paragraphs[0] == article.title
    squashed = ["".join(ch for ch in p.casefold() if ch.isalnum()) for p in article.paragraphs]
    assert squashed.count(squashed[0]) == 1


# ---------------------------------------------------------------------------------------
# The seed articles: what must go
# ---------------------------------------------------------------------------------------

CHROME_LINES = [
    "Theo dõi trên",
    "(0) Bình luận",
    "Bài liên quan",
    "Nổi bật",
    "Đừng bỏ lỡ",
    "POWERED BY ONECMS - A PRODUCT OF NEKO",
    "một ngày trướcBài gốc",
    "(Còn nữa)",
    "Các tin khác",
    "Xem các tin đã đưa ngày:",
    "Tin trong: Chuyên mục này Mọi chuyên mục",
    "Tags Yên Bái chấn chỉnh khắc phục né tránh trách nhiệm cán bộ đảng viên công chức",
    "(*) Không sao chép dưới mọi hình thức khi chưa có sự đồng ý bằng văn bản của Báo Hànộimới.",
    ">> Giải pháp quan trọng trong công tác phòng, chống tham nhũng, tiêu cực",
    "Nghị quyết và Cuộc sống",
    # metadata lines
    "30/10/2024, 05:25",
    "Hương Ly 22/10/2023 - 06:54",
    "• Cập nhật: Thứ tư, 21/2/2024 | 9:30:21 AM",
    "Cập nhật: Thứ tư, 21/2/2024 | 9:30:21 AM",
    "Thứ ba, 18/02/2020",
    "THANH NHÀN – KIỀU LINH",
    "Bài, ảnh: Thanh Phúc",
    "Thành Trung",
    "PHÙNG KHIÊM",
    # series navigation: the other parts of the series
    "Kỳ 1: Nghe tiếng dân bằng trái tim “công bộc”",
    "Kỳ 2: Bệnh “sợ trách nhiệm” ở Bình Thuận",
    "Kỳ cuối: Những “liều thuốc” mang tính quyết định",
    'Bài 1: "Bắt bệnh" sợ sai, sợ trách nhiệm',
    "Bài 2: Không thụ động, làm chậm bước tiến chung",
]


def test_no_seed_paragraph_is_page_chrome_or_metadata(seeds):
    for article in seeds.values():
        for paragraph in article.paragraphs:
            assert paragraph not in CHROME_LINES, (article.id, paragraph)
            assert not paragraph.lower().endswith((".jpg", ".png")), (article.id, paragraph)
            assert "Nguồn Tuyên Quang" not in paragraph
            assert "http" not in paragraph


def test_image_file_names_are_dropped_and_their_captions_kept(seeds):
    everything = [p for a in seeds.values() for p in a.paragraphs]
    for name in ("z5989461125553_dd8fc03375fdc95af67e2e1261b463e9.jpg", "cac-can-bo-dang-vien-du-ho.jpg"):
        assert not any(name in p for p in everything)
    assert "Bình Thuận đã và đang đưa ra nhiều giải pháp quyết liệt nhằm khắc phục tình trạng sợ trách nhiệm." in (
        seeds["000"].paragraphs
    )


def test_seed_003_related_articles_tail_is_gone(seeds):
    text = "\n".join(seeds["003"].paragraphs)
    for teaser in (
        "ngộ độc thực phẩm",
        "quán hàng rong",
        "Mù Cang Chải",
        "Ngày Sức khỏe thế giới",
        "phòng cháy chữa cháy rừng",
        "gió Lào",
        "vũ khí tự chế",
        "An ninh nông thôn",
    ):
        assert teaser not in text
    assert not any("ngộ độc thực phẩm" in p for a in seeds.values() for p in a.paragraphs)


def test_a_caption_printed_twice_is_kept_once(seeds):
    caption = "Năm 2024, Yên Bái phấn đấu trồng 6,61 triệu cây và năm 2025 là 6,75 triệu cây."
    assert seeds["003"].paragraphs.count(caption) == 1


def test_teaser_of_another_part_in_the_related_box_is_gone(seeds):
    assert not any(p.startswith("Cán bộ là cái gốc của mọi công việc") for p in seeds["000"].paragraphs)


# ---------------------------------------------------------------------------------------
# The seed articles: what must stay (beginning, middle and end of every body)
# ---------------------------------------------------------------------------------------

SEED_BODY = {
    "000": [
        "Kỳ 3: Lời thề Đảng viên và trách nhiệm “công bộc”",
        "Bệnh “sợ trách nhiệm” ở Bình Thuận (Kỳ 2) đã nhìn nhận và phân tích nguyên nhân “gốc rễ”",
        "Từ đợt sinh hoạt “Giữ trọn lời thề Đảng viên”…",
        "Đến những giải pháp cấp bách và lâu dài",
        "Ở các chi, Đảng bộ trên địa bàn tỉnh tích cực tham gia sinh hoạt",
        "Những “toa thuốc đặc trị” của Bình Thuận đang dần phát huy tác dụng",
        "đúng quy định hiện hành…”- Tỉnh uỷ Bình Thuận yêu cầu.",
    ],
    "001": [
        "Lực cản khiến cán bộ không dám hành động",
        "Đồng chí Phạm Kiên Cường, Phó Trưởng Ban Tổ chức Tỉnh ủy cho rằng",
        "Tạo cơ chế để cán bộ dám làm, dám chịu",
        "Năm 2023 Ban Thường vụ Tỉnh ủy đã ban hành Quy định số 20-QĐ/TU ngày 1/7/2023",
        "Ông Yasushi Saito, Giám đốc Công ty TNHH Erex Sakura Tuyên Quang cho biết",
        "Khi cán bộ được giao quyền rõ ràng, có lãnh đạo đồng hành và có cơ chế bảo vệ thì sẽ mạnh dạn hơn trong hành động.",
    ],
    "002": [
        "Song hành với việc đào tạo, bồi dưỡng, tạo môi trường làm việc hiệu quả",
        "Mục tiêu cao nhất của việc làm này là nâng cao chất lượng phục vụ nhân dân.",
        "Các cán bộ, đảng viên dự hội nghị quán triệt Chỉ thị số 24-CT/TU ngày 7-8-2023",
        "Những cách làm hiệu quả",
        "Lấy người dân là trung tâm phục vụ",
        "“dĩ hòa vi quý”.",
        "trách nhiệm giải quyết công việc theo tinh thần Chỉ thị số 24-CT/TU.",
    ],
    "003": [
        "YênBái - Về cơ bản, cấp ủy, chính quyền các cấp ở Yên Bái đã quyết liệt",
        "Năm qua, Yên Bái đã hoàn thành khá toàn diện các mục tiêu, nhiệm vụ chính trị đề ra.",
        "(Trong ảnh: Một góc Khu công nghiệp Minh Quân, huyện Trấn Yên.)",
        "Đặc biệt, ngày 25/4/2023, Ban Thường vụ Tỉnh ủy Yên Bái đã ban hành Quy định số 40 quy định tạm thời",
        "Các đồng chí lãnh đạo tỉnh cắt băng khánh thành Trung tâm Khai thác - vận chuyển và Bưu cục Âu Cơ",
        "Chấn chỉnh, khắc phục tình trạng né tránh, đùn đẩy, làm việc cầm chừng, sợ trách nhiệm không dám làm",
        "phòng, chống tham nhũng, tiêu cực.",
    ],
    "004": [
        "(LSO) – Để góp phần thực hiện Nghị quyết Trung ương 4 khóa XII",
        "Ban Tổ chức cuộc thi huyện Lộc Bình trao chứng nhận và phần thưởng cho tập thể đạt giải",
        "Các đồng chí Ủy viên Ban Chấp hành Đảng bộ tỉnh tham dự kỳ họp lần thứ 13",
        "Hay như Huyện ủy Chi Lăng, Ban Thường vụ Huyện ủy ban hành Chỉ thị số 05",
        "Đồng chí Nông Văn Thảm, Ủy viên Ban Thường vụ Tỉnh ủy, Trưởng ban Tuyên giáo Tỉnh ủy cho rằng",
        "để việc nêu gương của cán bộ, đảng viên đi vào thực chất hơn.",
    ],
}


@pytest.mark.parametrize("seed", sorted(SEED_BODY))
def test_seed_body_sentences_are_kept(seeds, seed):
    paragraphs = seeds[seed].paragraphs
    for sentence in SEED_BODY[seed]:
        assert any(sentence in p for p in paragraphs), sentence


@pytest.mark.parametrize("seed", sorted(SEED_BODY))
def test_every_body_line_of_a_seed_is_a_paragraph(seeds, seed):
    """The seeds' body lines, one paragraph each: count them from the file, minus chrome."""
    path = next(CORPUS.glob(f"{seed}_*.txt"))
    lines = [" ".join(line.split()) for line in path.read_text(encoding="utf-8").splitlines()]
    body = [line for line in lines if len(line.split()) >= 25]
    tail = {"000": "(0) Bình luận", "002": "(0) Bình luận", "003": "Các tin khác"}.get(seed)
    if tail:
        body = [line for line in body if lines.index(line) < lines.index(tail)]
    paragraphs = seeds[seed].paragraphs
    for line in body:
        if line != seeds[seed].title:
            assert line in paragraphs, line[:80]
    assert set(paragraphs) <= set(lines), [p for p in paragraphs if p not in lines]


def test_seed_paragraphs_have_plain_spaces_and_no_invisible_characters(seeds):
    raw = (next(CORPUS.glob("003_*.txt"))).read_text(encoding="utf-8")
    assert "\u00a0" in raw  # the seed does have NBSPs ...
    for article in seeds.values():
        for paragraph in article.paragraphs:
            assert "\u00a0" not in paragraph and "  " not in paragraph  # ... the paragraphs do not
            assert paragraph == paragraph.strip()
            assert unicodedata.is_normalized("NFC", paragraph)
    assert any("Quy định số 40 quy định tạm thời" in p for p in seeds["003"].paragraphs)


def test_tone_marks_are_kept_as_written(seeds):
    # The seeds mix old and new tone placement; reading must not choose between them.
    assert any("Tỉnh uỷ Bình Thuận" in p for p in seeds["000"].paragraphs)
    assert any("Tỉnh ủy Bình Thuận" in p for p in seeds["000"].paragraphs)
    assert any("“dĩ hòa vi quý”" in p for p in seeds["002"].paragraphs)


def test_bundled_corpus_has_no_food_poisoning_hit(run):
    """No paragraph has every word: exit status 1, and what is shown has only some."""
    result = run("query", "ngộ độc thực phẩm", "--json")
    assert result.exit_code == 1, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[-1]["complete"] == 0
    assert all(r["complete"] is False for r in records[:-1])
    assert run("query", "sợ trách nhiệm", "--json").exit_code == 0  # the same index does answer


# ---------------------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------------------

SAMPLE = article_text(
    "Thực hiện trách nhiệm nêu gương: Quyết tâm của Đảng bộ tỉnh",
    "Thứ ba, 18/02/2020",
    "Người đứng đầu phải thực sự nêu gương, dám nghĩ, dám làm, dám chịu trách nhiệm trước tập thể; "
    "khắc phục tình trạng né tránh, đùn đẩy, sợ sai trong thực thi công vụ của đội ngũ cán bộ.",
    "Đồng chí Nông Văn Thảm cho rằng: “Mỗi đảng viên phải là tấm gương sáng để quần chúng học tập, noi theo.”",
    "PHÙNG KHIÊM",
)
SAMPLE_PARAGRAPHS = (
    "Thực hiện trách nhiệm nêu gương: Quyết tâm của Đảng bộ tỉnh",
    "Người đứng đầu phải thực sự nêu gương, dám nghĩ, dám làm, dám chịu trách nhiệm trước tập thể; "
    "khắc phục tình trạng né tránh, đùn đẩy, sợ sai trong thực thi công vụ của đội ngũ cán bộ.",
    "Đồng chí Nông Văn Thảm cho rằng: “Mỗi đảng viên phải là tấm gương sáng để quần chúng học tập, noi theo.”",
)


def check_sample(article: Article) -> None:
    assert article.paragraphs == SAMPLE_PARAGRAPHS
    assert (article.title, article.date, article.author) == (SAMPLE_PARAGRAPHS[0], "2020-02-18", "PHÙNG KHIÊM")


def cp1258_bytes(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: base letters (â ê ô ơ ư ă đ) precomposed,
    the five tones as separate combining marks."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for ch in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        out.append(base + "".join(c for c in parts if c in tones))
    return "".join(out).encode("cp1258")


def test_utf8_reads_back_exactly(tmp_path):
    check_sample(read_article(write(tmp_path / "a.txt", SAMPLE)))


def test_utf8_with_bom(tmp_path):
    article = read_article(write(tmp_path / "a.txt", codecs.BOM_UTF8 + SAMPLE.encode("utf-8")))
    check_sample(article)
    assert not article.title.startswith("\ufeff")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be-bom", "utf-32"])
def test_utf16_and_utf32_with_bom(tmp_path, encoding):
    if encoding == "utf-16-be-bom":
        data = codecs.BOM_UTF16_BE + SAMPLE.encode("utf-16-be")
    else:
        data = SAMPLE.encode(encoding)
    check_sample(read_article(write(tmp_path / "a.txt", data)))


def test_utf16_without_bom_is_recognised_by_its_nul_bytes(tmp_path):
    check_sample(read_article(write(tmp_path / "a.txt", SAMPLE.encode("utf-16-le"))))


def test_cp1258_with_combining_tones_comes_out_nfc(tmp_path):
    data = cp1258_bytes(SAMPLE)
    assert b"\xec" in data and b"\xf2" in data  # acute and dot below as separate bytes
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    article = read_article(write(tmp_path / "a.txt", data))
    check_sample(article)
    assert all(unicodedata.is_normalized("NFC", p) for p in article.paragraphs)


def test_nfd_utf8_text_comes_out_nfc(tmp_path):
    article = read_article(write(tmp_path / "a.txt", unicodedata.normalize("NFD", SAMPLE)))
    check_sample(article)


# TCVN3 (ABC) text, as produced by glibc's TCVN5712-1 encoder, shown as Latin-1.
TCVN3_LINES = {
    "Céng hoµ x· héi chñ nghÜa ViÖt Nam": "Cộng hoà xã hội chủ nghĩa Việt Nam",
    "§éc lËp - Tù do - H¹nh phóc": "Độc lập - Tự do - Hạnh phúc",
    (
        "Ng\u00adêi ®øng ®Çu ph¶i thùc sù nªu g\u00ad¬ng, d¸m nghÜ, d¸m lµm, "
        "d¸m chÞu tr¸ch nhiÖm tr\u00adíc tËp thÓ."
    ): "Người đứng đầu phải thực sự nêu gương, dám nghĩ, dám làm, dám chịu trách nhiệm trước tập thể.",
    "Thµnh Trung": "Thành Trung",
}


def test_tcvn3_bytes_are_converted(tmp_path):
    text = "\n\n".join(TCVN3_LINES) + "\n"
    data = text.encode("latin-1")  # the bytes of a file typed with a TCVN3 (.VnTime) font
    article = read_article(write(tmp_path / "tcvn3.txt", data))
    assert article.title == "Cộng hoà xã hội chủ nghĩa Việt Nam"
    assert article.paragraphs == tuple(list(TCVN3_LINES.values())[:3])
    assert article.author == "Thành Trung"


def test_tcvn3_mojibake_inside_utf8_is_converted(tmp_path):
    # The soft hyphen U+00AD is TCVN3's "ư": it must survive until the conversion.
    text = "\n\n".join(TCVN3_LINES) + "\n"
    article = read_article(write(tmp_path / "tcvn3.txt", text))
    assert article.paragraphs[2] == TCVN3_LINES[list(TCVN3_LINES)[2]]
    assert "ư" in article.paragraphs[2]


def test_a_tcvn3_line_pasted_into_unicode_text_is_converted_alone(tmp_path):
    text = article_text("Cộng hoà xã hội chủ nghĩa Việt Nam", BODY_1, "Céng hoµ x· héi chñ nghÜa ViÖt Nam", "Thành Trung")
    article = read_article(write(tmp_path / "mixed.txt", text))
    assert article.paragraphs == ("Cộng hoà xã hội chủ nghĩa Việt Nam", BODY_1)  # converted, then a repeat
    assert article.author == "Thành Trung"  # Latin-1-only Unicode line left alone


VNI_LINES = {
    "Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam": "Cộng hòa xã hội chủ nghĩa Việt Nam",
    "Ñoäc laäp - Töï do - Haïnh phuùc": "Độc lập - Tự do - Hạnh phúc",
    "Ngöôøi ñöùng ñaàu phaûi göông maãu, daùm nghó, daùm laøm, daùm chòu traùch nhieäm.": (
        "Người đứng đầu phải gương mẫu, dám nghĩ, dám làm, dám chịu trách nhiệm."
    ),
}


def test_vni_text_is_converted(tmp_path):
    text = "\n\n".join(VNI_LINES) + "\n"
    for name, data in (("bytes.txt", text.encode("cp1252")), ("utf8.txt", text.encode("utf-8"))):
        article = read_article(write(tmp_path / name, data))
        assert article.paragraphs == tuple(VNI_LINES.values()), name


def test_utf8_read_as_cp1252_is_an_error_not_garbage(tmp_path):
    garbled = SAMPLE.encode("utf-8").decode("cp1252", errors="replace")
    path = write(tmp_path / "double.txt", garbled)
    with pytest.raises(SearcherError, match="double.txt: text looks garbled"):
        read_article(path)


def test_legacy_text_that_cannot_be_converted_is_an_error(tmp_path):
    # Latin-1 symbols inside every word: mojibake neither TCVN3 nor VNI explains.
    text = "Th¼¤c hi¤½n tr¼¤ch nhi¤½m n¼¤u g¼¤¬ng cña ¤½¼ng b¼¤ t¼¤nh h¼¤m nay\n"
    with pytest.raises(SearcherError, match=r"junk\.txt: .*legacy Vietnamese encoding"):
        read_article(write(tmp_path / "junk.txt", text))


def test_binary_file_is_an_error_naming_it(tmp_path):
    path = write(tmp_path / "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)))
    with pytest.raises(SearcherError, match=r"photo\.txt: binary file"):
        read_article(path)


def test_control_characters_make_a_file_binary(tmp_path):
    path = write(tmp_path / "ctl.txt", bytes([1, 2, 3, 4, 5, 6, 7, 8, 0x0E, 0x0F]) * 20 + b"abc")
    with pytest.raises(SearcherError, match=r"ctl\.txt: binary file"):
        read_article(path)


@pytest.mark.parametrize("data", [b"", b"   \n\n\t\n", codecs.BOM_UTF8, codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")])
def test_empty_file_is_an_error_naming_it(tmp_path, data):
    with pytest.raises(SearcherError, match=r"empty\.txt: empty file"):
        read_article(write(tmp_path / "empty.txt", data))


def test_undecodable_utf16_is_an_error_naming_it(tmp_path):
    data = codecs.BOM_UTF16_LE + "Việt Nam".encode("utf-16-le") + b"\x00\xd8"  # a lone surrogate
    with pytest.raises(SearcherError, match=r"bad\.txt: not valid UTF-16"):
        read_article(write(tmp_path / "bad.txt", data))


def test_only_chrome_is_an_error_naming_the_file(tmp_path):
    path = write(tmp_path / "chrome.txt", "Theo dõi trên\n\n(0) Bình luận\n\nz123_abc.jpg\n")
    with pytest.raises(SearcherError, match=r"chrome\.txt: no article text"):
        read_article(path)


def test_errors_are_one_line(tmp_path):
    with pytest.raises(SearcherError) as info:
        read_article(write(tmp_path / "empty.txt", b""))
    assert "\n" not in str(info.value)


def test_invisible_characters_and_spaces_are_normalized(tmp_path):
    text = article_text(
        "Cán\u00a0bộ \u201c7 dám\u201d",
        "Nhiều\u200b cán bộ\u00ad còn   sợ\ttrách\u00a0\u00a0nhiệm\ufeff khi làm việc.",
    )
    article = read_article(write(tmp_path / "a.txt", text))
    assert article.paragraphs == ("Cán bộ “7 dám”", "Nhiều cán bộ còn sợ trách nhiệm khi làm việc.")


# ---------------------------------------------------------------------------------------
# Cleaning rules on pages from other sites
# ---------------------------------------------------------------------------------------


def test_a_related_block_after_the_body_is_cut_with_everything_after_it(tmp_path):
    for marker in ("Tin liên quan", "Các tin khác", "Có thể bạn quan tâm", "Tin cùng chuyên mục:", "12 bình luận"):
        text = article_text(
            "Cán bộ dám nghĩ, dám làm",
            BODY_1,
            BODY_2,
            "Minh Anh",
            marker,
            "Hàng trăm người bị ngộ độc thực phẩm sau bữa tiệc cưới tại một xã vùng cao của tỉnh, "
            "cơ quan chức năng đang điều tra nguyên nhân và lấy mẫu thực phẩm để xét nghiệm.",
            "Cháy rừng ở huyện miền núi",
        )
        article = read_article(write(tmp_path / "a.txt", text))
        assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1, BODY_2), marker
        assert article.author == "Minh Anh"


def test_a_see_also_box_inside_the_body_keeps_the_body_after_it(tmp_path):
    text = article_text(
        "Cán bộ dám nghĩ, dám làm",
        BODY_1,
        "Xem thêm:",
        "Tỉnh ủy ban hành quy định bảo vệ cán bộ dám nghĩ",
        "Huyện Hàm Yên hoàn thành giải phóng mặt bằng",
        BODY_2,
        ">> Giải pháp quan trọng trong công tác phòng, chống tham nhũng",
        "» Đọc tiếp: những liều thuốc đặc trị",
        BODY_3,
    )
    article = read_article(write(tmp_path / "a.txt", text))
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1, BODY_2, BODY_3)


def test_series_navigation_goes_but_a_single_part_heading_stays(tmp_path):
    text = article_text(
        "Chữa căn bệnh sợ trách nhiệm. Kỳ 3",
        "Kỳ 3: Lời thề đảng viên",
        BODY_1,
        "Phần 1: Nghe tiếng dân",
        "Phần 2: Bệnh sợ trách nhiệm",
        "Phần cuối: Những liều thuốc",
        BODY_2,
    )
    article = read_article(write(tmp_path / "a.txt", text))
    assert article.paragraphs == ("Chữa căn bệnh sợ trách nhiệm. Kỳ 3", "Kỳ 3: Lời thề đảng viên", BODY_1, BODY_2)


def test_breadcrumbs_before_the_headline_go(tmp_path):
    text = article_text("Trang chủ", "Chính trị", "Cán bộ dám nghĩ, dám làm", "Thứ Hai, 05/02/2024 - 10:30 (GMT+7)", BODY_1)
    article = read_article(write(tmp_path / "a.txt", text))
    assert article.title == "Cán bộ dám nghĩ, dám làm"
    assert article.date == "2024-02-05"
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1)


def test_hard_wrapped_paragraphs_are_joined(tmp_path):
    text = (
        "Cán bộ dám nghĩ, dám làm\n\n"
        "Đảng bộ tỉnh Bình Thuận hiện có 463 tổ chức cơ sở Đảng với\n"
        "41.782 đảng viên; trong đó, cán bộ thuộc diện Ban Thường vụ\n"
        "quản lý có 370 đồng chí.\n"
        "Những cách làm hiệu quả\n"
        "Ngay khi phát động, các chi bộ đã có nhiều cách làm sáng tạo.\n"
    )
    article = read_article(write(tmp_path / "a.txt", text))
    assert article.paragraphs == (
        "Cán bộ dám nghĩ, dám làm",
        "Đảng bộ tỉnh Bình Thuận hiện có 463 tổ chức cơ sở Đảng với 41.782 đảng viên; "
        "trong đó, cán bộ thuộc diện Ban Thường vụ quản lý có 370 đồng chí.",
        "Những cách làm hiệu quả",
        "Ngay khi phát động, các chi bộ đã có nhiều cách làm sáng tạo.",
    )


def test_an_article_without_a_separate_headline_gets_its_first_sentence(tmp_path):
    text = BODY_1 + "\n\n" + BODY_2 + "\n"
    article = read_article(write(tmp_path / "a.txt", text))
    assert article.paragraphs == (BODY_1, BODY_2)
    assert article.title == " ".join(BODY_1.split()[:20]) + "…"


@pytest.mark.parametrize(
    "line, date, author",
    [
        ("30/10/2024, 05:25", "2024-10-30", None),
        ("Hương Ly 22/10/2023 - 06:54", "2023-10-22", "Hương Ly"),
        ("• Cập nhật: Thứ tư, 21/2/2024 | 9:30:21 AM", "2024-02-21", None),
        ("Thứ ba,\u00a0 18/02/2020", "2020-02-18", None),
        ("Cập nhật lúc 10:30 ngày 5.1.2024 (GMT+7)", "2024-01-05", None),
        ("Chủ Nhật, ngày 7 tháng 4 năm 2024", "2024-04-07", None),
        ("2024-03-09 08:00", "2024-03-09", None),
    ],
)
def test_datelines(tmp_path, line, date, author):
    article = read_article(write(tmp_path / "a.txt", article_text("Cán bộ dám nghĩ, dám làm", line, BODY_1)))
    assert (article.date, article.author) == (date, author)
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1)


def test_a_dated_sentence_is_body_not_a_dateline(tmp_path):
    sentence = "Ngày 25/4/2023, Ban Thường vụ Tỉnh ủy ban hành quy định mới."
    article = read_article(write(tmp_path / "a.txt", article_text("Cán bộ dám nghĩ, dám làm", sentence, BODY_1)))
    assert article.date is None
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", sentence, BODY_1)


@pytest.mark.parametrize(
    "text, expected",
    [("30/10/2024, 05:25", "2024-10-30"), ("31/02/2024", None), ("ngày 1-7-2023", "2023-07-01"), ("số 24-CT/TU", None)],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "byline, author",
    [
        ("Bài, ảnh: Thanh Phúc", "Thanh Phúc"),
        ("Bài và ảnh: Minh Anh", "Minh Anh"),
        ("THANH NHÀN – KIỀU LINH", "THANH NHÀN – KIỀU LINH"),
        ("Nguyễn Văn An (TTXVN)", "Nguyễn Văn An"),
        ("Nhóm PV: Hoàng Hà - Lan Anh", "Hoàng Hà - Lan Anh"),
    ],
)
def test_bylines_at_the_end(tmp_path, byline, author):
    article = read_article(write(tmp_path / "a.txt", article_text("Cán bộ dám nghĩ, dám làm", BODY_1, byline)))
    assert article.author == author
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1)


def test_a_short_last_sentence_is_not_taken_for_an_author(tmp_path):
    article = read_article(write(tmp_path / "a.txt", article_text("Cán bộ dám nghĩ, dám làm", BODY_1, BODY_3)))
    assert article.author is None
    assert article.paragraphs[-1] == BODY_3


@pytest.mark.parametrize(
    "line, source, url",
    [
        ("Nguồn Tuyên Quang : http://baotuyenquang.com.vn/bai-1.html", "Tuyên Quang", "http://baotuyenquang.com.vn/bai-1.html"),
        ("Theo TTXVN", "TTXVN", None),
        ("https://example.vn/bai-viet.html", None, "https://example.vn/bai-viet.html"),
    ],
)
def test_source_lines(tmp_path, line, source, url):
    article = read_article(write(tmp_path / "a.txt", article_text("Cán bộ dám nghĩ, dám làm", BODY_1, "Minh Anh", line)))
    assert (article.source, article.url, article.author) == (source, url, "Minh Anh")
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1)


# ---------------------------------------------------------------------------------------
# JSON, JSON Lines, HTML
# ---------------------------------------------------------------------------------------

RECORD = {
    "id": "bt-2024-10-30",
    "title": "Chữa căn bệnh “sợ trách nhiệm”",
    "text": "\n\n".join([BODY_1, BODY_2, "Bài liên quan", "Ngộ độc thực phẩm ở trường học"]),
    "date": "2024-10-30T05:25:00+07:00",
    "author": "Thanh Nhàn",
    "url": "https://baobinhthuan.com.vn/chua-can-benh.html",
    "source": "Báo Bình Thuận",
}


def test_json_article(tmp_path):
    path = write(tmp_path / "one.json", json.dumps(RECORD, ensure_ascii=False))
    (source,) = scan_file(path)
    assert (source.id, source.hash) == ("bt-2024-10-30", content_hash(path.read_bytes()))
    article = source.load()
    assert article == Article(
        id="bt-2024-10-30",
        title="Chữa căn bệnh “sợ trách nhiệm”",
        paragraphs=("Chữa căn bệnh “sợ trách nhiệm”", BODY_1, BODY_2),
        date="2024-10-30",
        author="Thanh Nhàn",
        url="https://baobinhthuan.com.vn/chua-can-benh.html",
        hash=source.hash,
        source="Báo Bình Thuận",
    )


def test_json_without_id_is_named_after_its_file_and_may_give_paragraphs_as_a_list(tmp_path):
    record = {"title": "Cán bộ dám nghĩ", "text": [BODY_1, BODY_2], "date": "30/10/2024"}
    article = read_article(write(tmp_path / "bai-viet.json", json.dumps(record, ensure_ascii=False)))
    assert (article.id, article.date, article.paragraphs) == ("bai-viet", "2024-10-30", ("Cán bộ dám nghĩ", BODY_1, BODY_2))


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "a", "title": "T"', r"bad\.json: not valid JSON"),
        ('{"id": "a", "title": "T"}', r'bad\.json: the article needs a "text" string'),
        ('{"id": "a b", "text": "x"}', r"bad\.json: bad article id"),
        ('{"id": "a", "text": "Cán bộ dám nghĩ.", "date": "hôm qua"}', r'bad\.json: "date" \'hôm qua\' is not a date'),
        ('["not", "an", "object"]', r"bad\.json: expected a JSON object"),
    ],
)
def test_bad_json_is_an_error_naming_the_file(tmp_path, content, message):
    path = write(tmp_path / "bad.json", content)
    with pytest.raises(SearcherError, match=message):
        read_article(path)


def test_jsonl_one_source_per_line_each_with_its_own_hash(tmp_path):
    records = [dict(RECORD, id=f"bai-{n}", title=f"Bài số {n} về cán bộ") for n in range(3)]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path = write(tmp_path / "many.jsonl", "\n".join(lines) + "\n")
    sources = list(scan_file(path))
    assert [s.id for s in sources] == ["bai-0", "bai-1", "bai-2"]
    assert [s.hash for s in sources] == [content_hash(line.encode("utf-8")) for line in lines]
    articles = [s.load() for s in sources]
    assert [a.title for a in articles] == ["Bài số 0 về cán bộ", "Bài số 1 về cán bộ", "Bài số 2 về cán bộ"]
    assert all(a.paragraphs[1:] == (BODY_1, BODY_2) for a in articles)

    # Editing one record changes that record's hash only.
    lines[1] = json.dumps(dict(records[1], text=BODY_3), ensure_ascii=False)
    write(path, "\n".join(lines) + "\n")
    changed = list(scan_file(path))
    assert [s.hash == t.hash for s, t in zip(sources, changed)] == [True, False, True]


def test_a_bad_jsonl_line_is_reported_and_the_others_still_load(tmp_path):
    good = json.dumps(dict(RECORD, id="good"), ensure_ascii=False)
    no_id = json.dumps({"title": "x", "text": "y"})
    path = write(tmp_path / "mixed.jsonl", "\n".join([good, "{broken", "", no_id, good.replace("good", "good-2")]))
    found = list(Corpus(tmp_path).sources())
    assert [type(s).__name__ for s in found] == ["Source", "SourceError", "SourceError", "Source"]
    assert "mixed.jsonl:2: not valid JSON" in str(found[1])
    assert 'mixed.jsonl:4: the article has no "id"' in str(found[2])
    assert all(s.path == path for s in found)
    assert [s.load().id for s in found if isinstance(s, Source)] == ["good", "good-2"]
    with pytest.raises(SearcherError, match=r"mixed\.jsonl:2"):
        list(scan_file(path))


def test_a_jsonl_record_that_cannot_be_parsed_fails_on_load_naming_its_line(tmp_path):
    path = write(tmp_path / "x.jsonl", json.dumps({"id": "a", "title": "T", "text": 3}) + "\n")
    (source,) = scan_file(path)
    with pytest.raises(SearcherError, match=r'x\.jsonl:1: the article needs a "text" string'):
        source.load()


PAGE = """<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<title>Chữa căn bệnh sợ trách nhiệm - Báo Bình Thuận</title>
<meta property="og:title" content="Chữa căn bệnh “sợ trách nhiệm” – cách làm từ Bình Thuận">
<meta name="author" content="Thanh Nhàn">
<meta property="article:published_time" content="2024-10-30T05:25:00+07:00">
<link rel="canonical" href="https://baobinhthuan.com.vn/chua-can-benh.html">
</head><body>
<header><nav><a href="/">Trang chủ</a> | <a href="/chinh-tri">Chính trị</a> | <a href="/xa-hoi">Xã hội</a></nav>
<div class="share">Theo dõi trên Google News</div></header>
<main><article>
<h1>Chữa căn bệnh “sợ trách nhiệm” – cách làm từ Bình Thuận</h1>
<p>{body_1}</p>
<p>{body_2}</p>
<figure><img src="z5989461125553_dd8f.jpg"><figcaption>Sinh hoạt chính trị tại huyện Tuy Phong.</figcaption></figure>
<p>{body_3}</p>
</article></main>
<aside><h3>Bài liên quan</h3><ul>
<li><a href="/a">Hàng trăm người ngộ độc thực phẩm sau tiệc cưới</a></li>
<li><a href="/b">Diễn tập phòng cháy chữa cháy rừng</a></li></ul></aside>
<footer><p>POWERED BY ONECMS - A PRODUCT OF NEKO</p><p>© Báo Bình Thuận</p></footer>
</body></html>
"""


def test_html_page_through_trafilatura(tmp_path):
    page = PAGE.format(body_1=BODY_1, body_2=BODY_2, body_3=BODY_3)
    article = read_article(write(tmp_path / "page.html", page))
    assert article.id == "page"
    assert article.title == "Chữa căn bệnh “sợ trách nhiệm” – cách làm từ Bình Thuận"
    assert (article.date, article.author, article.url) == (
        "2024-10-30",
        "Thanh Nhàn",
        "https://baobinhthuan.com.vn/chua-can-benh.html",
    )
    assert article.paragraphs[0] == article.title
    for body in (BODY_1, BODY_2, BODY_3):
        assert body in article.paragraphs
    text = "\n".join(article.paragraphs)
    for chrome in ("ngộ độc", "cháy rừng", "POWERED BY", "Trang chủ", "Theo dõi", ".jpg"):
        assert chrome not in text


def test_html_in_a_legacy_charset(tmp_path):
    page = PAGE.format(body_1=BODY_1, body_2=BODY_2, body_3=BODY_3).replace('charset="utf-8"', 'charset="windows-1258"')
    article = read_article(write(tmp_path / "page.htm", cp1258_bytes(page)))
    assert BODY_1 in article.paragraphs


def test_html_without_article_text_is_an_error(tmp_path):
    path = write(tmp_path / "blank.html", "<html><head><title>x</title></head><body><nav>Trang chủ</nav></body></html>")
    with pytest.raises(SearcherError, match=r"blank\.html: no article text"):
        read_article(path)


def test_binary_html_is_an_error(tmp_path):
    with pytest.raises(SearcherError, match=r"x\.html: binary file"):
        read_article(write(tmp_path / "x.html", b"\x00\x01\x02<html>" * 10))


# ---------------------------------------------------------------------------------------
# The corpus folder
# ---------------------------------------------------------------------------------------


def test_files_lists_every_format_and_skips_hidden_and_other_files(tmp_path):
    for name in ("b.txt", "a.json", "c.jsonl", "d.html", "e.HTM", ".hidden.txt", "notes.md", "f.txt~"):
        write(tmp_path / name, "x")
    assert [p.name for p in Corpus(tmp_path).files()] == ["a.json", "b.txt", "c.jsonl", "d.html", "e.HTM"]


def test_one_bad_file_does_not_stop_the_others(tmp_path):
    write(tmp_path / "a.txt", SAMPLE)
    write(tmp_path / "b.txt", b"\x00\x01binary\x00")
    write(tmp_path / "c.json", "{not json")
    write(tmp_path / "d.txt", b"")
    found = list(Corpus(tmp_path).sources())
    assert [(type(s).__name__, s.path.name) for s in found] == [
        ("Source", "a.txt"),
        ("Source", "b.txt"),  # a .txt is only decoded when it is loaded ...
        ("SourceError", "c.json"),  # ... a .json must be parsed to learn its id
        ("Source", "d.txt"),
    ]
    assert isinstance(found[2], SourceError) and "c.json: not valid JSON" in str(found[2])
    check_sample(found[0].load())
    with pytest.raises(SearcherError, match=r"b\.txt: binary file"):
        found[1].load()
    with pytest.raises(SearcherError, match=r"d\.txt: empty file"):
        found[3].load()


def test_unchanged_bytes_keep_their_hash_and_changed_bytes_do_not(tmp_path):
    path = write(tmp_path / "a.txt", SAMPLE)
    first = next(scan_file(path)).hash
    assert next(scan_file(path)).hash == first == content_hash(SAMPLE.encode("utf-8"))
    write(path, SAMPLE + "Thêm một câu.\n")
    assert next(scan_file(path)).hash != first


def test_query_start_up_imports_neither_trafilatura_nor_charset_normalizer():
    code = (
        "import sys, searcher.cli, searcher.corpus, searcher.index, searcher.engine.embedded;"
        "print(sorted(m for m in ('trafilatura', 'charset_normalizer', 'lxml') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_title_with_the_site_name_added_finds_the_printed_headline(tmp_path):
    record = {
        "id": "a",
        "title": "Cán bộ dám nghĩ, dám làm - Báo Bình Thuận điện tử",
        "text": "\n\n".join(["Thời sự", "Cán bộ dám nghĩ, dám làm", BODY_1]),
    }
    article = read_article(write(tmp_path / "a.json", json.dumps(record, ensure_ascii=False)))
    assert article.title == "Cán bộ dám nghĩ, dám làm"
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1)


def test_html_saved_as_txt_is_read_as_a_web_page(tmp_path):
    page = PAGE.format(body_1=BODY_1, body_2=BODY_2, body_3=BODY_3)
    article = read_article(write(tmp_path / "saved.txt", page))
    assert article.title == "Chữa căn bệnh “sợ trách nhiệm” – cách làm từ Bình Thuận"
    assert BODY_2 in article.paragraphs
    assert not any("<" in p for p in article.paragraphs)


def test_a_place_by_the_date_at_the_end_is_not_an_author(tmp_path):
    article = read_article(write(tmp_path / "a.txt", article_text("Cán bộ dám nghĩ, dám làm", BODY_1, "Hà Nội, ngày 5/1/2024")))
    assert (article.date, article.author) == ("2024-01-05", None)
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1)


def test_breadcrumbs_and_photo_credits_are_chrome(tmp_path):
    text = article_text(
        "Trang chủ > Chính trị > Xây dựng Đảng",
        "Cán bộ dám nghĩ, dám làm",
        BODY_1,
        "Ảnh: Thanh Hà",
        "Ảnh minh họa",
        BODY_2,
    )
    article = read_article(write(tmp_path / "a.txt", text))
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1, BODY_2)


def test_a_sentence_about_photos_is_body(tmp_path):
    sentence = "Ảnh: nhiều người dân đã đến xem triển lãm tư liệu về lịch sử Đảng bộ tỉnh trong những ngày qua."
    article = read_article(write(tmp_path / "a.txt", article_text("Cán bộ dám nghĩ, dám làm", BODY_1, sentence)))
    assert article.paragraphs == ("Cán bộ dám nghĩ, dám làm", BODY_1, sentence)


def test_json_fields_in_tcvn3_are_converted_too(tmp_path):
    record = {"id": "a", "title": "Céng hoµ x· héi chñ nghÜa ViÖt Nam", "text": "§éc lËp - Tù do - H¹nh phóc", "author": "Thµnh Trung"}
    article = read_article(write(tmp_path / "a.json", json.dumps(record, ensure_ascii=False)))
    assert (article.title, article.author) == ("Cộng hoà xã hội chủ nghĩa Việt Nam", "Thành Trung")
    assert article.paragraphs == ("Cộng hoà xã hội chủ nghĩa Việt Nam", "Độc lập - Tự do - Hạnh phúc")


def test_listing_the_corpus_loads_no_parser():
    """`searcher query` lists the corpus at every start: no cleaning rules, decoders,
    trafilatura or charset-normalizer for that."""
    code = (
        "import sys, searcher.corpus as c; corpus = c.Corpus(sys.argv[1]); corpus.files(); corpus.signature();"
        "print(sorted(m for m in sys.modules if m.startswith(('searcher.corpus.', 'trafilatura', 'charset_normalizer'))))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(CORPUS)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == (
        "['searcher.corpus.folder', 'searcher.corpus.listing', 'searcher.corpus.model', 'searcher.corpus.sources']"
    )


def test_every_invisible_character_of_searcher_text_is_dropped_from_stored_text(tmp_path):
    """One set of invisible characters (searcher.text.INVISIBLE), direction marks included."""
    from searcher.text import INVISIBLE

    for ch in sorted(INVISIBLE):
        text = article_text("Cán bộ “7 dám”", f"Nhiều cán{ch} bộ còn sợ trách{ch}nhiệm khi làm việc.")
        article = read_article(write(tmp_path / "a.txt", text))
        assert article.paragraphs[1] == "Nhiều cán bộ còn sợ tráchnhiệm khi làm việc.", hex(ord(ch))
