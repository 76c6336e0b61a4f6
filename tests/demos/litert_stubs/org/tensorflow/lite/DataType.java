// Compile-only stub of LiteRT's org.tensorflow.lite.DataType (the enum's documented constants).
package org.tensorflow.lite;

public enum DataType {
    FLOAT32,
    INT32,
    UINT8,
    INT64,
    STRING,
    BOOL,
    INT16,
    INT8
}
