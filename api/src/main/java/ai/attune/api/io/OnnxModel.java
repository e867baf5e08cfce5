package ai.attune.api.io;

import ai.attune.api.tensor.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The weights and the node list of an ONNX model file, read straight from the protobuf wire format
 * without a protobuf library: enough to import an exported encoder's weights, nothing more.
 *
 * <p>Only these fields of {@code onnx.proto} are read; every other field is skipped by its wire type:
 * <pre>
 *   ModelProto   graph = 7
 *   GraphProto   node = 1, initializer = 5
 *   NodeProto    input = 1, output = 2, name = 3, op_type = 4
 *   TensorProto  dims = 1, data_type = 2, float_data = 4, int32_data = 5, int64_data = 7, name = 8,
 *                raw_data = 9, double_data = 10, data_location = 14
 * </pre>
 * The file is memory-mapped; {@code raw_data} (how exporters store weights) is handed out as a
 * zero-copy, read-only slice of the mapping, and the typed repeated fields are decoded into
 * little-endian segments of the same arena, so {@link #close()} releases both. Every length and
 * varint is checked against its enclosing message, so a truncated or corrupted file gives a one-line
 * {@link IOException} naming the file, never an index or arithmetic exception.
 */
public final class OnnxModel implements AutoCloseable {

    /** Little-endian layouts for reading initializer data, which need not be aligned. */
    public static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** TensorProto.DataType values this reader knows the element size of. */
    static final int FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4, INT16 = 5, INT32 = 6, INT64 = 7, STRING = 8,
            BOOL = 9, FLOAT16 = 10, DOUBLE = 11, UINT32 = 12, UINT64 = 13, BFLOAT16 = 16;

    /**
     * A graph initializer (a weight).
     *
     * @param dataType the ONNX {@code TensorProto.DataType} number (1 = FLOAT, 7 = INT64, ...)
     * @param data     little-endian, row-major bytes, exactly {@code elementCount * elementSize}
     */
    public record Initializer(String name, long[] dims, int dataType, MemorySegment data) {
        public Initializer {
            dims = dims.clone();
        }

        @Override
        public long[] dims() {
            return dims.clone();
        }

        /** The matching tensor dtype, or null for ONNX types Attune has none of (INT8, UINT16, ...). */
        public DType dtype() {
            return switch (dataType) {
                case FLOAT -> DType.F32;
                case DOUBLE -> DType.F64;
                case FLOAT16 -> DType.F16;
                case BFLOAT16 -> DType.BF16;
                case INT64 -> DType.I64;
                case INT32 -> DType.I32;
                case UINT8 -> DType.U8;
                case BOOL -> DType.BOOL;
                default -> null;
            };
        }

        public long elementCount() {
            long n = 1;
            for (long d : dims) {
                n *= d; // cannot overflow: checked when the file was read
            }
            return n;
        }

        /** The values of a FLOAT initializer. */
        public float[] toFloats() {
            requireType(FLOAT);
            return data.toArray(F32_LE);
        }

        /** The values of an INT64 initializer. */
        public long[] toLongs() {
            requireType(INT64);
            return data.toArray(I64_LE);
        }

        private void requireType(int type) {
            if (dataType != type) {
                throw new IllegalStateException("initializer " + Names.quote(name) + " has data_type " + dataType + ", not " + type);
            }
        }
    }

    /** A graph node: which values it reads and writes. */
    public record Node(String name, String opType, List<String> inputs, List<String> outputs) {
        public Node {
            inputs = List.copyOf(inputs);
            outputs = List.copyOf(outputs);
        }
    }

    private final Path path;
    private final Arena arena;
    private final Map<String, Initializer> initializers;
    private final List<Node> nodes;
    private final AtomicBoolean closed = new AtomicBoolean();

    private OnnxModel(Path path, Arena arena, Map<String, Initializer> initializers, List<Node> nodes) {
        this.path = path;
        this.arena = arena;
        this.initializers = Collections.unmodifiableMap(initializers);
        this.nodes = List.copyOf(nodes);
    }

    /**
     * Maps and parses {@code file}.
     *
     * @throws IOException one line naming the file when it is not a readable ONNX model
     */
    public static OnnxModel open(Path file) throws IOException {
        Arena arena = Arena.ofShared();
        MemorySegment mapping;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            mapping = size == 0 ? MemorySegment.NULL : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena).asReadOnly();
        } catch (Throwable t) {
            arena.close();
            throw t;
        }
        return parse(file, mapping, arena);
    }

    /**
     * Parses bytes already in memory; {@code file} names them in messages. The model owns
     * {@code arena}: {@link #close()} closes it, and so does a failure here.
     */
    static OnnxModel parse(Path file, MemorySegment bytes, Arena arena) throws IOException {
        try {
            Parser parser = new Parser(file, arena, bytes);
            parser.model(new Wire(parser, 0, bytes.byteSize()));
            return new OnnxModel(file, arena, parser.initializers, parser.nodes);
        } catch (Throwable t) {
            arena.close();
            throw t;
        }
    }

    public Path path() {
        return path;
    }

    /** The initializers by name, in file order. */
    public Map<String, Initializer> initializers() {
        return initializers;
    }

    /** The nodes, in file (topological) order. */
    public List<Node> nodes() {
        return nodes;
    }

    /** The nodes that read {@code value}, e.g. the MatMul that consumes a weight. */
    public List<Node> consumers(String value) {
        List<Node> out = new ArrayList<>();
        for (Node n : nodes) {
            if (n.inputs().contains(value)) {
                out.add(n);
            }
        }
        return out;
    }

    /** Unmaps the file; initializer data handed out before becomes inaccessible. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "OnnxModel[" + path + ", " + initializers.size() + " initializers, " + nodes.size() + " nodes]";
    }

    /** Bytes per element of an ONNX data type, or 0 when this reader does not support it. */
    static int elementSize(int dataType) {
        return switch (dataType) {
            case UINT8, INT8, BOOL -> 1;
            case UINT16, INT16, FLOAT16, BFLOAT16 -> 2;
            case FLOAT, INT32, UINT32 -> 4;
            case INT64, DOUBLE, UINT64 -> 8;
            default -> 0;
        };
    }

    /** Walks the messages, collecting initializers and nodes; all failures go through {@link #malformed}. */
    private static final class Parser {
        final Path file;
        final Arena arena;
        final MemorySegment bytes;
        final Map<String, Initializer> initializers = new LinkedHashMap<>();
        final List<Node> nodes = new ArrayList<>();

        Parser(Path file, Arena arena, MemorySegment bytes) {
            this.file = file;
            this.arena = arena;
            this.bytes = bytes;
        }

        IOException malformed(String reason) {
            return new IOException(Names.oneLine(SafetensorsException.displayName(file) + ": not a valid ONNX model: " + reason));
        }

        void model(Wire w) throws IOException {
            boolean sawGraph = false;
            while (w.more()) {
                if (w.next() == 7 && w.type == Wire.LEN) {
                    graph(w.message());
                    sawGraph = true; // protobuf merges repeated occurrences of a message field; so do we
                } else {
                    w.skip();
                }
            }
            if (!sawGraph) {
                throw malformed("no graph (ModelProto field 7)");
            }
        }

        void graph(Wire w) throws IOException {
            while (w.more()) {
                int field = w.next();
                if (field == 1 && w.type == Wire.LEN) {
                    nodes.add(node(w.message()));
                } else if (field == 5 && w.type == Wire.LEN) {
                    Initializer init = tensor(w.message());
                    if (initializers.putIfAbsent(init.name(), init) != null) {
                        throw malformed("initializer " + Names.quote(init.name()) + " appears twice");
                    }
                } else {
                    w.skip();
                }
            }
        }

        Node node(Wire w) throws IOException {
            List<String> inputs = new ArrayList<>();
            List<String> outputs = new ArrayList<>();
            String name = "";
            String op = "";
            while (w.more()) {
                int field = w.next();
                if (w.type != Wire.LEN || field < 1 || field > 4) {
                    w.skip();
                    continue;
                }
                String s = w.string();
                switch (field) {
                    case 1 -> inputs.add(s);
                    case 2 -> outputs.add(s);
                    case 3 -> name = s;
                    default -> op = s;
                }
            }
            return new Node(name, op, inputs, outputs);
        }

        Initializer tensor(Wire w) throws IOException {
            String name = null;
            int dataType = 0;
            long[] dims = new long[0];
            int ndims = 0;
            MemorySegment raw = null;
            Values typed = null; // float_data, int32_data, int64_data or double_data
            int typedField = 0;
            while (w.more()) {
                int field = w.next();
                switch (field) {
                    case 1 -> {
                        for (long d : w.varints()) {
                            dims = ndims == dims.length ? Arrays.copyOf(dims, Math.max(4, 2 * ndims)) : dims;
                            dims[ndims++] = d;
                        }
                    }
                    case 2 -> dataType = (int) w.varintField();
                    case 8 -> name = w.string();
                    case 9 -> raw = w.bytes();
                    case 14 -> {
                        if (w.varintField() != 0) {
                            throw malformed("tensor " + Names.quote(String.valueOf(name)) + " keeps its data in an external file, which is not supported");
                        }
                    }
                    case 4, 5, 7, 10 -> {
                        if (typed != null && typedField != field) {
                            throw malformed("tensor " + Names.quote(String.valueOf(name)) + " has data in two typed fields");
                        }
                        typed = typed == null ? new Values(field) : typed;
                        typedField = field;
                        typed.read(w, this);
                    }
                    default -> w.skip();
                }
            }
            String label = "tensor " + Names.quote(String.valueOf(name));
            if (name == null || name.isEmpty()) {
                throw malformed("an initializer has no name");
            }
            dims = Arrays.copyOf(dims, ndims);
            long count = 1;
            for (long d : dims) {
                if (d < 0) {
                    throw malformed(label + " has a negative dimension in " + Arrays.toString(dims));
                }
                try {
                    count = Math.multiplyExact(count, d);
                } catch (ArithmeticException e) {
                    throw malformed(label + " has a shape " + Arrays.toString(dims) + " that overflows");
                }
            }
            int size = elementSize(dataType);
            if (size == 0) {
                throw malformed(label + " has data_type " + dataType + ", which is not supported");
            }
            if (raw != null && typed != null) {
                throw malformed(label + " has both raw_data and typed data");
            }
            MemorySegment data;
            if (raw != null) {
                if (count > raw.byteSize() / size || raw.byteSize() != count * size) {
                    throw malformed(label + " has " + raw.byteSize() + " bytes of raw_data, but shape " + Arrays.toString(dims)
                            + " of data_type " + dataType + " needs " + (count > Long.MAX_VALUE / size ? "more" : count * size));
                }
                data = raw;
            } else if (typed != null) {
                data = typed.toSegment(dataType, count, label, this);
            } else if (count == 0) {
                data = MemorySegment.NULL;
            } else {
                throw malformed(label + " has no data");
            }
            return new Initializer(name, dims, dataType, data);
        }

        String decode(MemorySegment s) throws IOException {
            if (s.byteSize() > Integer.MAX_VALUE - 8) {
                throw malformed("a string of " + s.byteSize() + " bytes");
            }
            try {
                return Json.decodeUtf8(s.toArray(ValueLayout.JAVA_BYTE));
            } catch (CharacterCodingException e) {
                throw malformed("a name is not valid UTF-8");
            }
        }
    }

    /**
     * The values of one typed repeated field ({@code float_data = 4}, {@code int32_data = 5},
     * {@code int64_data = 7}, {@code double_data = 10}), packed or not, widened to longs or doubles
     * bits. Exporters put weights in {@code raw_data}; these fields hold small constants, so a heap
     * array is fine.
     */
    private static final class Values {
        final int field;
        long[] values = new long[16];
        int n;

        Values(int field) {
            this.field = field;
        }

        void read(Wire w, Parser p) throws IOException {
            switch (field) {
                case 4 -> w.fixed(4, this);  // float: fixed32
                case 10 -> w.fixed(8, this); // double: fixed64
                default -> {                 // int32 and int64: varints
                    for (long v : w.varints()) {
                        add(v);
                    }
                }
            }
        }

        void add(long v) {
            if (n == values.length) {
                values = Arrays.copyOf(values, 2 * n);
            }
            values[n++] = v;
        }

        MemorySegment toSegment(int dataType, long count, String label, Parser p) throws IOException {
            int expectedField = switch (dataType) {
                case FLOAT -> 4;
                case INT64 -> 7;
                case INT32 -> 5;
                case DOUBLE -> 10;
                default -> -1;
            };
            if (field != expectedField) {
                throw p.malformed(label + " of data_type " + dataType + " stores its values in field " + field);
            }
            if (n != count) {
                throw p.malformed(label + " has " + n + " values, but its shape needs " + count);
            }
            int size = elementSize(dataType);
            MemorySegment out = p.arena.allocate(Math.max(1, (long) n * size)).asSlice(0, (long) n * size);
            for (int i = 0; i < n; i++) {
                switch (dataType) {
                    case FLOAT -> out.setAtIndex(I32_LE, i, (int) values[i]); // the fixed32 bits, as read
                    case INT32 -> out.setAtIndex(I32_LE, i, (int) values[i]); // int32 varints are sign-extended
                    default -> out.setAtIndex(I64_LE, i, values[i]);          // INT64 values, DOUBLE bits
                }
            }
            return out;
        }
    }

    /** A cursor over one message's bytes {@code [pos, end)}; {@link #next()} reads a key. */
    private static final class Wire {
        static final int VARINT = 0, I64 = 1, LEN = 2, I32 = 5;

        final Parser p;
        long pos;
        final long end;
        int type;

        Wire(Parser p, long start, long end) {
            this.p = p;
            this.pos = start;
            this.end = end;
        }

        boolean more() {
            return pos < end;
        }

        /** Reads a key; returns the field number and leaves the wire type in {@link #type}. */
        int next() throws IOException {
            long at = pos;
            long key = varint();
            type = (int) (key & 7);
            long field = key >>> 3;
            if (field == 0 || field > 0x1fffffff) {
                throw p.malformed("invalid field number " + field + " at byte " + at);
            }
            if (type != VARINT && type != I64 && type != LEN && type != I32) {
                throw p.malformed("unsupported wire type " + type + " at byte " + at);
            }
            return (int) field;
        }

        long varint() throws IOException {
            long result = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    throw p.malformed("truncated varint at byte " + pos);
                }
                byte b = p.bytes.get(ValueLayout.JAVA_BYTE, pos++);
                result |= (long) (b & 0x7f) << shift;
                if (b >= 0) {
                    return result;
                }
            }
            throw p.malformed("varint longer than 10 bytes at byte " + pos);
        }

        /** The value of a varint field, checking that the wire type says so. */
        long varintField() throws IOException {
            if (type != VARINT) {
                throw p.malformed("expected a varint field at byte " + pos + ", found wire type " + type);
            }
            return varint();
        }

        /** The payload of a length-delimited field, bounds-checked against this message. */
        MemorySegment bytes() throws IOException {
            long[] range = range();
            return p.bytes.asSlice(range[0], range[1] - range[0]);
        }

        long[] range() throws IOException {
            if (type != LEN) {
                throw p.malformed("expected a length-delimited field at byte " + pos + ", found wire type " + type);
            }
            long at = pos;
            long len = varint();
            if (len < 0 || len > end - pos) {
                throw p.malformed("length " + len + " at byte " + at + " runs past the end of its message (byte " + end + ")");
            }
            long start = pos;
            pos += len;
            return new long[] {start, pos};
        }

        Wire message() throws IOException {
            long[] range = range();
            return new Wire(p, range[0], range[1]);
        }

        String string() throws IOException {
            return p.decode(bytes());
        }

        /** A repeated varint field, packed (one length-delimited run) or not (one value). */
        long[] varints() throws IOException {
            if (type == VARINT) {
                return new long[] {varint()};
            }
            Wire run = message();
            long[] out = new long[8];
            int n = 0;
            while (run.more()) {
                out = n == out.length ? Arrays.copyOf(out, 2 * n) : out;
                out[n++] = run.varint();
            }
            return Arrays.copyOf(out, n);
        }

        /** A repeated fixed32 or fixed64 field, packed or not, into {@code into} as raw bits. */
        void fixed(int width, Values into) throws IOException {
            int single = width == 4 ? I32 : I64;
            if (type == single) {
                into.add(fixedAt(width));
                return;
            }
            long[] range = range();
            if ((range[1] - range[0]) % width != 0) {
                throw p.malformed("packed field of " + (range[1] - range[0]) + " bytes is not a multiple of " + width + " at byte " + range[0]);
            }
            long saved = pos;
            for (pos = range[0]; pos < range[1]; ) {
                into.add(fixedAt(width));
            }
            pos = saved;
        }

        private long fixedAt(int width) throws IOException {
            if (end - pos < width) {
                throw p.malformed("truncated fixed" + (width * 8) + " at byte " + pos);
            }
            long v = width == 4 ? p.bytes.get(I32_LE, pos) : p.bytes.get(I64_LE, pos);
            pos += width;
            return v;
        }

        /** Skips the current field's value by its wire type. */
        void skip() throws IOException {
            switch (type) {
                case VARINT -> varint();
                case I64, I32 -> {
                    int width = type == I64 ? 8 : 4;
                    if (end - pos < width) {
                        throw p.malformed("truncated fixed" + (width * 8) + " at byte " + pos);
                    }
                    pos += width;
                }
                default -> range();
            }
        }
    }
}
