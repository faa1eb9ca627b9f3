// kctr: the few containerd API calls the engine tests need and ctr 1.6
// lacks: a task update, and a run whose runc v2 shim options keep
// BinaryName together with NoPivotRoot or a user namespace (ctr drops
// --runc-binary there). Built in GOPATH mode against Debian's
// golang-github-containerd-containerd-dev.
//
//	kctr ADDRESS NAMESPACE update ID MEMORY_BYTES CPU_QUOTA
//	kctr ADDRESS NAMESPACE run BINARY FIFO_DIR NOPIVOT(0|1) UIDMAP(-|HOSTID:SIZE) IMAGE ID ARGS...
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/containerd/runtime/v2/runc/options"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "kctr: %s: %v\n", what, err)
	os.Exit(125)
}

func update(ctx context.Context, client *containerd.Client, args []string) {
	if len(args) != 3 {
		fail("update", fmt.Errorf("want ID MEMORY_BYTES CPU_QUOTA"))
	}
	memory, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		fail("memory", err)
	}
	quota, err := strconv.ParseInt(args[2], 10, 64)
	if err != nil {
		fail("cpu quota", err)
	}
	container, err := client.LoadContainer(ctx, args[0])
	if err != nil {
		fail("loading container", err)
	}
	task, err := container.Task(ctx, nil)
	if err != nil {
		fail("loading task", err)
	}
	res := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &memory}, CPU: &specs.LinuxCPU{Quota: &quota}}
	if err := task.Update(ctx, containerd.WithResources(res)); err != nil {
		fail("updating task", err)
	}
}

func idMap(spec string) (uint32, uint32) {
	parts := strings.Split(spec, ":")
	if len(parts) != 2 {
		fail("uid map", fmt.Errorf("want HOSTID:SIZE, got %q", spec))
	}
	host, err1 := strconv.ParseUint(parts[0], 10, 32)
	size, err2 := strconv.ParseUint(parts[1], 10, 32)
	if err1 != nil || err2 != nil {
		fail("uid map", fmt.Errorf("bad numbers in %q", spec))
	}
	return uint32(host), uint32(size)
}

func run(ctx context.Context, client *containerd.Client, args []string) int {
	if len(args) < 7 {
		fail("run", fmt.Errorf("want BINARY FIFO_DIR NOPIVOT UIDMAP IMAGE ID ARGS..."))
	}
	binary, fifoDir, noPivot, uidMap, ref, id, argv := args[0], args[1], args[2] == "1", args[3], args[4], args[5], args[6:]
	image, err := client.GetImage(ctx, ref)
	if err != nil {
		fail("image", err)
	}
	opts := []containerd.NewContainerOpts{
		containerd.WithImage(image),
		containerd.WithRuntime("io.containerd.runc.v2", &options.Options{BinaryName: binary, NoPivotRoot: noPivot}),
	}
	specOpts := []oci.SpecOpts{oci.WithImageConfig(image), oci.WithProcessArgs(argv...)}
	if uidMap != "-" {
		host, size := idMap(uidMap)
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: size}}
		specOpts = append(specOpts, oci.WithUserNamespace(m, m))
		opts = append(opts, containerd.WithRemappedSnapshot(id, image, host, host))
	} else {
		opts = append(opts, containerd.WithNewSnapshot(id, image))
	}
	opts = append(opts, containerd.WithNewSpec(specOpts...))
	container, err := client.NewContainer(ctx, id, opts...)
	if err != nil {
		fail("creating container", err)
	}
	defer container.Delete(ctx, containerd.WithSnapshotCleanup)
	task, err := container.NewTask(ctx, cio.NewCreator(cio.WithStdio, cio.WithFIFODir(fifoDir)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kctr: creating task: %v\n", err)
		return 125
	}
	defer task.Delete(ctx)
	exited, err := task.Wait(ctx)
	if err != nil {
		fail("waiting", err)
	}
	if err := task.Start(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "kctr: starting task: %v\n", err)
		return 125
	}
	status := <-exited
	code, _, err := status.Result()
	if err != nil {
		fail("exit status", err)
	}
	return int(code)
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: kctr ADDRESS NAMESPACE update|run ARGS...")
		os.Exit(125)
	}
	client, err := containerd.New(os.Args[1])
	if err != nil {
		fail("connecting", err)
	}
	defer client.Close()
	ctx := namespaces.WithNamespace(context.Background(), os.Args[2])
	switch os.Args[3] {
	case "update":
		update(ctx, client, os.Args[4:])
	case "run":
		code := run(ctx, client, os.Args[4:])
		client.Close()
		os.Exit(code)
	default:
		fail("command", fmt.Errorf("unknown %q", os.Args[3]))
	}
}
