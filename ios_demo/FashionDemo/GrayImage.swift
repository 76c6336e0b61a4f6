import CoreGraphics
import UIKit

/// Bitmaps to 0...255 gray pixel arrays, row-major, top row first.
enum GrayImage {
    /// The pixels of an 8-bit grayscale image as decoded (the bundled samples), read without any
    /// colour management so the values are the file's own; other images are drawn into a gray
    /// context instead.
    static func pixels(of image: CGImage) -> [Int] {
        if image.bitsPerPixel == 8, image.bitsPerComponent == 8,
           image.colorSpace?.model == .monochrome, image.alphaInfo == .none,
           let data = image.dataProvider?.data, let bytes = CFDataGetBytePtr(data) {
            var out = [Int]()
            out.reserveCapacity(image.width * image.height)
            for y in 0..<image.height {
                for x in 0..<image.width {
                    out.append(Int(bytes[y * image.bytesPerRow + x]))
                }
            }
            return out
        }
        return render(width: image.width, height: image.height) { context in
            context.draw(image, in: CGRect(x: 0, y: 0, width: image.width, height: image.height))
        }
    }

    /// Draws into a white width x height DeviceGray bitmap (origin top-left) and returns its pixels.
    static func render(width: Int, height: Int, draw: (CGContext) -> Void) -> [Int] {
        var buffer = [UInt8](repeating: 255, count: width * height)
        buffer.withUnsafeMutableBytes { raw in
            guard let context = CGContext(
                data: raw.baseAddress, width: width, height: height, bitsPerComponent: 8,
                bytesPerRow: width, space: CGColorSpaceCreateDeviceGray(),
                bitmapInfo: CGImageAlphaInfo.none.rawValue
            ) else { return }
            context.setFillColor(gray: 1, alpha: 1)
            context.fill(CGRect(x: 0, y: 0, width: width, height: height))
            // Core Graphics' origin is bottom-left; flip so drawing coordinates match the view's.
            context.translateBy(x: 0, y: CGFloat(height))
            context.scaleBy(x: 1, y: -1)
            draw(context)
        }
        return buffer.map { Int($0) }
    }
}
