import Foundation

/// Which way round an image is: the model wants what contract.json says (Fashion-MNIST: light on dark).
enum Polarity: String {
    case lightOnDark = "light_on_dark"
    case darkOnLight = "dark_on_light"
}

/// Pixels to model input, Foundation only. Mirrors android_demo's Preprocess.kt line for line,
/// so both apps feed the model the same int8 bytes that compiler/bundle.py wrote as golden data.
enum Preprocess {
    /// Packed ARGB pixels to 0...255 gray (Rec. 601 luma, integer math; gray stays gray exactly).
    static func grayFromARGB(_ argb: [UInt32]) -> [Int] {
        argb.map { p in
            let r = Int((p >> 16) & 0xFF)
            let g = Int((p >> 8) & 0xFF)
            let b = Int(p & 0xFF)
            return (299 * r + 587 * g + 114 * b + 500) / 1000
        }
    }

    /// Box-filter downscale: each output pixel is the rounded mean of the source block it covers
    /// (block edges at floor(i * size / outSize)). Integer math, identical to the Kotlin code.
    static func resizeArea(_ gray: [Int], width: Int, height: Int, outWidth: Int, outHeight: Int) -> [Int] {
        precondition(gray.count == width * height, "gray has \(gray.count) pixels; expected \(width) x \(height)")
        precondition(width >= outWidth && height >= outHeight && outWidth > 0 && outHeight > 0,
                     "can only shrink: \(width)x\(height) to \(outWidth)x\(outHeight)")
        var out = [Int](repeating: 0, count: outWidth * outHeight)
        for oy in 0..<outHeight {
            let y0 = oy * height / outHeight
            let y1 = (oy + 1) * height / outHeight
            for ox in 0..<outWidth {
                let x0 = ox * width / outWidth
                let x1 = (ox + 1) * width / outWidth
                var sum = 0
                for y in y0..<y1 {
                    for x in x0..<x1 {
                        sum += gray[y * width + x]
                    }
                }
                let count = (y1 - y0) * (x1 - x0)
                out[oy * outWidth + ox] = (sum + count / 2) / count
            }
        }
        return out
    }

    /// Inverts 0...255 gray when the source's polarity is not the model's (a white drawing canvas).
    static func toPolarity(_ gray: [Int], from: Polarity, to: Polarity) -> [Int] {
        from == to ? gray : gray.map { 255 - $0 }
    }

    /// 0...255 gray (model polarity) to the ONNX model's float32 input, p / divisor in Float
    /// (Preprocess.kt's normalize, compiler/bundle.py's normalize_pixels).
    static func normalize(_ gray: [Int], divisor: Float) -> [Float] {
        gray.enumerated().map { i, p in
            precondition((0...255).contains(p), "pixel \(i) is \(p); expected 0...255")
            return Float(p) / divisor
        }
    }

    /// Rounds half away from zero, as TFLite's quantizer and Kotlin's code do.
    static func roundHalfAwayFromZero(_ value: Float) -> Int {
        Int(value.rounded(.toNearestOrAwayFromZero))
    }

    /// 0...255 gray (model polarity) to int8: q = round(x / divisor / scale) + zeroPoint, clamped
    /// to -128...127, in Float (32-bit) arithmetic in exactly this order.
    static func quantize(_ gray: [Int], divisor: Float, scale: Float, zeroPoint: Int) -> [Int8] {
        precondition(scale > 0, "input scale must be > 0; received \(scale)")
        return gray.enumerated().map { i, p in
            precondition((0...255).contains(p), "pixel \(i) is \(p); expected 0...255")
            let q = roundHalfAwayFromZero(Float(p) / divisor / scale) + zeroPoint
            return Int8(min(max(q, -128), 127))
        }
    }
}
