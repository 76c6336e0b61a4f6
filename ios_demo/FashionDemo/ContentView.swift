import SwiftUI

/// The bundled test images (tap one), a drawing canvas, and the model's answer.
struct ContentView: View {
    @StateObject private var model = DemoModel()
    @State private var strokes: [[CGPoint]] = []
    @State private var canvasSide: CGFloat = 0

    var body: some View {
        ScrollView {
            VStack(alignment: .leading, spacing: 12) {
                Text("Fashion-MNIST: TensorFlow Lite and ONNX Runtime").font(.title2)
                Picker("Backend", selection: $model.choice) {
                    ForEach(BackendChoice.allCases) { choice in
                        Text(choice.rawValue).tag(choice)
                    }
                }
                .pickerStyle(.segmented)
                Text("Test images: tap one")
                ScrollView(.horizontal) {
                    HStack(spacing: 8) {
                        ForEach(model.samples) { sample in
                            Image(uiImage: sample.image)
                                .interpolation(.none)
                                .resizable()
                                .frame(width: 64, height: 64)
                                .accessibilityLabel(sample.label)
                                .onTapGesture { model.classify(sample) }
                        }
                    }
                }
                Text("Or draw a garment")
                DrawingCanvas(strokes: $strokes)
                    .background(GeometryReader { geometry in
                        Color.clear.onAppear { canvasSide = geometry.size.width }
                    })
                HStack {
                    Button("Classify drawing") {
                        model.classify(strokes: strokes, viewSide: canvasSide)
                    }
                    Spacer()
                    Button("Clear") { strokes = [] }
                }
                Text(model.result).font(.title3)
            }
            .padding()
        }
    }
}
