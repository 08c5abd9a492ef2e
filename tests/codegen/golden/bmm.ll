; ModuleID = "bmm"
target triple = "unknown-unknown-unknown"
target datalayout = ""

define internal i32 @"bmm.body"(ptr noalias %"a", ptr noalias %"b", ptr noalias %"c", ptr noalias %"workspace", i64 %"threads") nounwind
{
entry:
  br label %"q.cond"
q.cond:
  %"q" = phi  i64 [0, %"entry"], [%"q.next", %"q.body"]
  %".8" = icmp slt i64 %"q", 2
  br i1 %".8", label %"q.body", label %"q.end"
q.body:
  %".10" = mul i64 %"q", 20
  %".11" = getelementptr float, ptr %"b", i64 %".10"
  %".12" = mul i64 %"q", 12
  %".13" = getelementptr float, ptr %"a", i64 %".12"
  %".14" = mul i64 %"q", 15
  %".15" = getelementptr float, ptr %"c", i64 %".14"
  call void @"blas_sgemm"(i8* @"blas.char.78", i8* @"blas.char.78", i32* @"blas.i32.5", i32* @"blas.i32.3", i32* @"blas.i32.4", float* @"blas.f32.1.0", ptr %".11", i32* @"blas.i32.5", ptr %".13", i32* @"blas.i32.4", float* @"blas.f32.0.0", ptr %".15", i32* @"blas.i32.5")
  %"q.next" = add nuw nsw i64 %"q", 1
  br label %"q.cond"
q.end:
  ret i32 0
}

declare void @"blas_sgemm"(ptr %".1", ptr %".2", ptr %".3", ptr %".4", ptr %".5", ptr %".6", ptr %".7", ptr %".8", ptr %".9", ptr %".10", ptr %".11", ptr %".12", ptr %".13")

@"blas.char.78" = private unnamed_addr constant i8 78
@"blas.i32.5" = private unnamed_addr constant i32 5
@"blas.i32.3" = private unnamed_addr constant i32 3
@"blas.i32.4" = private unnamed_addr constant i32 4
@"blas.f32.1.0" = private unnamed_addr constant float 0x3ff0000000000000
@"blas.f32.0.0" = private unnamed_addr constant float              0x0
define i32 @"kernel.bmm"(ptr %"args") nounwind
{
entry:
  %".3" = getelementptr i64, ptr %"args", i64 4
  %"threads" = load i64, ptr %".3"
  %".4" = getelementptr ptr, ptr %"args", i64 0
  %"a" = load ptr, ptr %".4"
  %".5" = getelementptr ptr, ptr %"args", i64 1
  %"b" = load ptr, ptr %".5"
  %".6" = getelementptr ptr, ptr %"args", i64 2
  %"c" = load ptr, ptr %".6"
  %".7" = getelementptr ptr, ptr %"args", i64 3
  %"workspace" = load ptr, ptr %".7"
  %".8" = icmp slt i64 %"threads", 1
  %".9" = select  i1 %".8", i64 1, i64 %"threads"
  %".10" = icmp sgt i64 %".9", 64
  %"threads.clamped" = select  i1 %".10", i64 64, i64 %".9"
  %".11" = call i32 @"bmm.body"(ptr %"a", ptr %"b", ptr %"c", ptr %"workspace", i64 %"threads.clamped")
  ret i32 %".11"
}
