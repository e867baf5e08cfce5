package ai.attune.api.tensor;

/** Where a tensor's storage lives: {@code cpu}, or {@code cuda:0} and so on. */
public record Device(String type, int index) {
    public static final Device CPU = new Device("cpu", 0);

    @Override
    public String toString() {
        return type.equals("cpu") ? "cpu" : type + ":" + index;
    }
}
