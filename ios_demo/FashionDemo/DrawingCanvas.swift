import SwiftUI

/// A square white canvas to draw a garment on in thick black strokes. The strokes are dark on
/// light, the opposite of Fashion-MNIST, so the caller classifies with Polarity.darkOnLight and
/// Preprocess inverts.
struct DrawingCanvas: View {
    @Binding var strokes: [[CGPoint]]
    @State private var drawing = false

    var body: some View {
        GeometryReader { geometry in
            let side = geometry.size.width
            Canvas { context, _ in
                context.fill(Path(CGRect(x: 0, y: 0, width: side, height: side)), with: .color(.white))
                for stroke in strokes {
                    context.stroke(DrawingCanvas.path(stroke), with: .color(.black),
                                   style: StrokeStyle(lineWidth: side / 14, lineCap: .round, lineJoin: .round))
                }
            }
            .gesture(
                DragGesture(minimumDistance: 0)
                    .onChanged { value in
                        if drawing, !strokes.isEmpty {
                            strokes[strokes.count - 1].append(value.location)
                        } else {
                            strokes.append([value.location])
                            drawing = true
                        }
                    }
                    .onEnded { _ in drawing = false }
            )
        }
        .aspectRatio(1, contentMode: .fit)
        .border(Color.gray)
    }

    static func path(_ points: [CGPoint]) -> Path {
        var path = Path()
        guard let first = points.first else { return path }
        path.move(to: first)
        path.addLine(to: CGPoint(x: first.x + 0.1, y: first.y))
        for point in points.dropFirst() {
            path.addLine(to: point)
        }
        return path
    }

    /// The strokes drawn on a white side x side canvas, as 0...255 gray pixels (dark on light).
    static func grayPixels(_ strokes: [[CGPoint]], side: Int, viewSide: CGFloat) -> [Int] {
        let scale = CGFloat(side) / viewSide
        return GrayImage.render(width: side, height: side) { context in
            context.setStrokeColor(gray: 0, alpha: 1)
            context.setLineWidth(CGFloat(side) / 14)
            context.setLineCap(.round)
            context.setLineJoin(.round)
            for stroke in strokes {
                context.addPath(path(stroke).applying(CGAffineTransform(scaleX: scale, y: scale)).cgPath)
                context.strokePath()
            }
        }
    }
}
