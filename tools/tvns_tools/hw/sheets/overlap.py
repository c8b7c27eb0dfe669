"""Layout checks on a drawn sheet: no two texts overlap, no text sits on a wire or a symbol
line, all text is horizontal and inside the frame. Text boxes are exact (ziamath measures
the glyphs), lines are the drawing's own segments, so this finds what a reader would trip
over; it cannot judge taste."""

import math

from schemdraw.segments import Segment, SegmentArc, SegmentCircle, SegmentPoly, SegmentText

MARGIN = 0.03  # drawing units a text box is shrunk by before testing (touching is fine)


def _texts_and_lines(drawing):
    texts, lines, circles = [], [], []
    for idx, el in enumerate(drawing.elements):
        for seg in el.segments:
            g = seg.xform(el.transform, **el.params)
            if isinstance(seg, SegmentText):
                if not g.visible or not g.text.strip():
                    continue
                texts.append((idx, g.text, g.get_bbox(), g.rotation))
            elif isinstance(seg, SegmentPoly):
                pts = list(g.verts)
                if g.closed:
                    pts.append(pts[0])
                lines.append((idx, pts))
            elif isinstance(seg, Segment):
                lines.append((idx, list(g.path)))
            elif isinstance(seg, (SegmentCircle, SegmentArc)):
                circles.append((idx, g.get_bbox()))
    return texts, lines, circles


def _shrink(b, m=MARGIN):
    return (b.xmin + m, b.ymin + m, b.xmax - m, b.ymax - m)


def _boxes_overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _seg_hits_box(p, q, box):
    """Liang-Barsky: does segment p-q pass through the open box?"""
    x0, y0 = float(p[0]), float(p[1])
    dx, dy = float(q[0]) - x0, float(q[1]) - y0
    if math.isnan(dx) or math.isnan(dy):  # schemdraw breaks a path with NaN points
        return False
    t0, t1 = 0.0, 1.0
    for pp, qq in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if pp == 0:
            if qq <= 0:
                return False
            continue
        r = qq / pp
        if pp < 0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 >= t1:
            return False
    return True


def problems(drawing, width, height):
    """A list of human-readable layout faults (empty when the sheet is clean)."""
    texts, lines, circles = _texts_and_lines(drawing)
    out = []
    for _, text, b, rot in texts:
        if rot not in (None, 0, 0.0) and rot % 360:
            out.append("rotated text %r" % text)
        if b.xmin < 0.1 or b.ymin < 0.1 or b.xmax > width - 0.1 or b.ymax > height - 0.1:
            out.append("text outside the frame: %r" % text)
    boxes = [(i, t, _shrink(b)) for i, t, b, _ in texts]
    for n, (_, ta, ba) in enumerate(boxes):
        for _, tb, bb in boxes[n + 1 :]:
            if _boxes_overlap(ba, bb):
                out.append("texts overlap: %r / %r" % (ta, tb))
    for _, t, box in boxes:
        for _, pts in lines:
            if any(_seg_hits_box(pts[k], pts[k + 1], box) for k in range(len(pts) - 1)):
                out.append("text on a line: %r" % t)
                break
        else:
            for _, cb in circles:
                if _boxes_overlap(box, (cb.xmin, cb.ymin, cb.xmax, cb.ymax)):
                    out.append("text on a dot or circle: %r" % t)
                    break
    return out
