"""Reading order and roles on pages built line by line (qa.ingest.formats.layout): no PDF, no OCR."""

from qa.ingest.formats.header import read_fields
from qa.ingest.formats.layout import Element, Line, analyse, element_text
from tests.seeds import page

BODY, HEAD, SUB, CAPTION = 10.0, 24.0, 14.0, 8.5
PITCH = 16.0  # line spacing of body text
WIDTH = 150.0  # a column
GUTTER = 15.0
TEXT = page("003").split("星期二", 1)[1]  # the page text below its header


class Page:
    """Lines set on a page from the text of a seed page, 15 characters a line."""

    def __init__(self):
        self.lines: list[Line] = []
        self.cursor = 0

    def text(self, n: int) -> str:
        piece = TEXT[self.cursor : self.cursor + n]
        self.cursor += n
        return piece

    def line(self, x: float, y: float, text: str, size: float = BODY, width: float | None = None) -> Line:
        line = Line(text, x, y, x + (width if width is not None else len(text) * size), y + size, size)
        self.lines.append(line)
        return line

    def column(self, x: float, y: float, rows: int, starts: tuple[int, ...] = (0,)) -> list[Line]:
        """`rows` lines of body text; the lines in `starts` begin a paragraph (indented)."""
        out = []
        for i in range(rows):
            indent = 2 * BODY if i in starts else 0.0
            out.append(self.line(x + indent, y + i * PITCH, self.text(15 - 2 * (i in starts)),
                                 width=WIDTH - indent))
        return out

    def headline(self, x: float, y: float, text: str, size: float = HEAD) -> Line:
        return self.line(x, y, text, size)


def order(p: Page) -> list[str]:
    """Texts in reading order: each headline, then the lines of each paragraph or caption."""
    layout = analyse(p.lines, 2000.0)
    return [element_text(e) if e.kind == "head" else line.text
            for e in layout.elements for line in (e.lines[:1] if e.kind == "head" else e.lines)]


def texts(lines: list[Line]) -> list[str]:
    return [line.text for line in lines]


def test_columns_are_read_one_after_another():
    p = Page()
    head = p.headline(60, 40, "三栏标题横跨全部栏目")
    cols = [p.column(40 + i * (WIDTH + GUTTER), 80, 6, starts=(0, 3) if i == 0 else ()) for i in range(3)]
    assert order(p) == [head.text, *texts(cols[0]), *texts(cols[1]), *texts(cols[2])]


def test_a_headline_across_columns_ends_the_stories_above_it():
    p = Page()
    first = [p.column(40 + i * (WIDTH + GUTTER), 40, 5) for i in range(2)]
    head = p.headline(50, 40 + 5 * PITCH + 12, "第二篇稿件的标题横跨两栏")
    second = [p.column(40 + i * (WIDTH + GUTTER), 40 + 5 * PITCH + 50, 5) for i in range(2)]
    assert order(p) == [*texts(first[0]), *texts(first[1]), head.text, *texts(second[0]),
                        *texts(second[1])]


def test_stories_side_by_side_are_read_story_by_story():
    """Two stories in one row, their headlines in one band and their text below pictures in the
    next, above a story across the page (so the page is first cut into bands)."""
    p = Page()
    left = p.headline(60, 40, "左边的稿件")
    right = p.headline(60 + 2 * (WIDTH + GUTTER) + 10, 40, "右边的稿件")
    photo_bottom = 40 + HEAD + 120  # pictures over both stories: nothing printed there
    cols = [p.column(40 + i * (WIDTH + GUTTER), photo_bottom, 4) for i in range(4)]
    below = photo_bottom + 4 * PITCH + 20
    wide = p.headline(60, below, "横跨整版的另一篇稿件标题横跨整版")
    last = [p.column(40 + i * (WIDTH + GUTTER), below + 40, 3) for i in range(4)]
    assert order(p) == [left.text, *texts(cols[0]), *texts(cols[1]), right.text, *texts(cols[2]),
                        *texts(cols[3]), wide.text, *(t for col in last for t in texts(col))]


def test_a_caption_inside_a_column_goes_to_the_end_of_its_story():
    p = Page()
    head = p.headline(40, 40, "图片新闻的标题")
    above = p.column(40, 80, 3)
    caption = [p.line(40, 80 + 3 * PITCH + 100 + i * 13, p.text(17), CAPTION) for i in range(2)]
    below = p.column(40, 80 + 3 * PITCH + 140, 3, starts=())  # the paragraph goes on
    next_head = p.headline(40, 80 + 6 * PITCH + 200, "下一篇稿件")
    layout = analyse(p.lines, 2000.0)
    kinds = [(e.kind, texts(list(e.lines))) for e in layout.elements]
    assert kinds == [("head", [head.text]), ("para", texts(above + below)), ("caption", texts(caption)),
                     ("head", [next_head.text])]


def test_paragraphs_start_at_indented_lines_and_headlines_join_their_lines():
    p = Page()
    top = p.headline(40, 40, "两行标题")
    bottom = p.headline(40, 40 + HEAD * 1.25, "第二行长一些的一行")
    sub = p.headline(40, 40 + HEAD * 2.6, "——副题", SUB)
    body = p.column(40, 140, 7, starts=(0, 4))
    layout = analyse(p.lines, 2000.0)
    assert [(e.kind, e.level) for e in layout.elements] == [("head", 1), ("head", 2), ("para", 0),
                                                             ("para", 0)]
    # the first line ends short of the second: broken on purpose, between two phrases
    assert element_text(layout.elements[0]) == f"{top.text} {bottom.text}"
    assert element_text(layout.elements[1]) == sub.text
    assert [len(e.lines) for e in layout.elements[2:]] == [4, 3] and layout.elements[3].lines[0] == body[4]


def test_the_page_header_is_set_aside_as_metadata():
    p = Page()
    fields = [p.line(40, 20, "乌海日报"), p.line(250, 20, "2022年11月22日 星期二"), p.line(500, 20, "第3版 经济")]
    head = p.headline(60, 60, "绿色发展 动能澎湃")
    body = p.column(40, 100, 4)
    layout = analyse(p.lines, 1200.0)
    assert sorted(texts(list(layout.header))) == sorted(texts(fields))
    assert order(p) == [head.text, *texts(body)]
    meta = read_fields(texts(list(layout.header)))
    assert (meta.newspaper, meta.date, meta.page, meta.section) == ("乌海日报", "2022-11-22", "3", "经济")


def test_the_short_last_line_of_a_spanning_headline_may_overlap_the_line_above():
    """OCR pads a box around its ink: the headline's `会议` under its long first line overlaps
    it by a pixel, and is still the headline's, so the columns below are read one by one."""
    p = Page()
    first = p.line(40, 40, "全国政协常委会第二十四次会议举行全体", size=HEAD, width=3 * WIDTH + 2 * GUTTER)
    last = p.line(40 + WIDTH + GUTTER + 40, 40 + HEAD - 1, "会议", size=HEAD * 1.1)
    columns = [p.column(40 + n * (WIDTH + GUTTER), 40 + 2 * HEAD + 6, 5) for n in range(3)]
    assert order(p) == [first.text + last.text, *(t for column in columns for t in texts(column))]


def test_a_masthead_beside_the_header_line_is_furniture_whatever_it_reads():
    """A masthead in large type reaching below the header line's foot is the header's, also
    when OCR misread its name (山城早报 as 山城早): it never joins the lead's headline."""
    p = Page()
    mast = p.line(40, 10, "山城早", size=40.0)
    fields = [p.line(400, 30, "2022年1月30日 星期日"), p.line(600, 30, "第16版 社会")]
    head = p.headline(60, 80, "忠诚托举新使命")
    body = p.column(40, 120, 4)
    layout = analyse(p.lines, 1200.0)
    assert sorted(texts(list(layout.header))) == sorted(texts([mast, *fields]))
    assert order(p) == [head.text, *texts(body)]


def test_a_headline_broken_where_the_width_ran_out_joins_without_a_space():
    full = Line("习近平对政法工作作出重要指示强调坚持党的绝对领导忠诚履职担", 40, 40, 40 + 30 * HEAD, 40 + HEAD, HEAD)
    rest = Line("当作为", 40 + 13.5 * HEAD, 70, 40 + 16.5 * HEAD, 70 + HEAD, HEAD)
    assert element_text(Element("head", (full, rest), 1)) == full.text + rest.text


def ocr_line(x: float, y: float, text: str) -> Line:
    """A line as OCR gives it: a box around the characters, each character's edges."""
    edges = tuple(x + i * BODY for i in range(len(text) + 1))
    return Line(text, x, y, edges[-1], y + BODY, BODY, False, 0.98, edges)


def test_an_ocr_line_joined_across_a_gutter_is_cut_apart():
    """The detector joined the first lines of two columns and read the gutter as a comma."""
    left = [TEXT[i * 15 : i * 15 + 15] for i in range(5)]
    right = [TEXT[100 + i * 15 : 115 + i * 15] for i in range(5)]
    x2 = 40 + 15 * BODY + GUTTER
    joined = ocr_line(40, 40, left[0] + "，" + right[0])
    joined = joined._replace(edges=(*joined.edges[:16], *(x2 + i * BODY for i in range(16))),
                             x1=x2 + 15 * BODY)  # the comma fills the gutter
    lines = [joined] + [ocr_line(x, 40 + i * PITCH, col[i]) for i in range(1, 5)
                        for x, col in ((40, left), (x2, right))]
    layout = analyse(lines, 2000.0)
    read = [line.text for e in layout.elements for line in e.lines]
    assert read == left + right


def test_a_headline_whose_last_line_is_short_still_ends_the_text_above_its_story():
    """`会议` under a line across the page: the cut below the headline is made below both lines,
    so the story's columns are read one after the other, not line by line across them."""
    p = Page()
    top = p.headline(40, 40, "全国政协十三届常委会第二十四次会议举行全体")
    rest = p.headline(200, 40 + HEAD * 1.3, "会议")
    cols = [p.column(40 + i * (WIDTH + GUTTER), 40 + HEAD * 2.3 + 8, 5) for i in range(3)]
    assert order(p) == [f"{top.text}{rest.text}", *texts(cols[0]), *texts(cols[1]), *texts(cols[2])]


def test_a_column_under_a_centred_headline_goes_with_its_story():
    """The headline is centred over columns 2-3 of a four-column story and narrower than it,
    and briefs run beside the story from the top: column 1 starts below the headline, so it is
    read after the headline, not before."""
    p = Page()
    head = p.headline(40 + WIDTH + GUTTER, 40, "新闻标题居中于第二三栏")
    cols = [p.column(40 + i * (WIDTH + GUTTER), 40 + HEAD + 14, 5) for i in range(4)]
    brief = p.headline(40 + 4 * (WIDTH + GUTTER), 40, "简讯标题", size=SUB * 1.2)
    briefs = p.column(40 + 4 * (WIDTH + GUTTER), 40 + 20, 8)
    assert order(p) == [head.text, *[t for col in cols for t in texts(col)], brief.text, *texts(briefs)]


def test_text_above_and_below_a_picture_across_the_story_is_read_band_by_band():
    p = Page()
    head = p.headline(60, 40, "一篇稿件的图片横跨两栏")
    above = [p.column(40 + i * (WIDTH + GUTTER), 80, 3) for i in range(2)]
    below = [p.column(40 + i * (WIDTH + GUTTER), 80 + 3 * PITCH + 120, 3) for i in range(2)]
    assert order(p) == [head.text, *texts(above[0]), *texts(above[1]), *texts(below[0]),
                        *texts(below[1])]


def test_a_story_beside_another_runs_on_below_its_picture():
    """Two stories side by side; the left one, a column wide, goes on below a picture, under it
    alone: the text below the picture is read with it, before the story beside."""
    p = Page()
    left = p.headline(40, 40, "左边稿件")
    right = p.headline(40 + WIDTH + GUTTER, 40, "右边稿件")
    left_top = p.column(40, 80, 3)
    right_cols = [p.column(40 + (1 + i) * (WIDTH + GUTTER), 80, 4) for i in range(2)]  # ends first
    left_below = p.column(40, 80 + 3 * PITCH + 100, 3)
    assert order(p) == [left.text, *texts(left_top), *texts(left_below), right.text,
                        *texts(right_cols[0]), *texts(right_cols[1])]


def test_a_vertical_headline_right_of_its_text_is_read_first():
    p = Page()
    cols = [p.column(40 + i * (WIDTH + GUTTER), 40, 6) for i in range(2)]
    x = 40 + 2 * (WIDTH + GUTTER)
    head = Line("竖排的新闻标题", x, 40, x + HEAD, 40 + 7 * HEAD, HEAD, vertical=True)
    p.lines.append(head)
    assert order(p) == [head.text, *texts(cols[0]), *texts(cols[1])]
