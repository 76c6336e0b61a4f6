// Makes ONNX Runtime's Objective-C API (pod onnxruntime-objc) visible to Swift, as its
// documentation says: https://onnxruntime.ai/docs/get-started/with-obj-c.html
#import <onnxruntime.h>
