; ModuleID = "sigmoid"
target triple = "unknown-unknown-unknown"
target datalayout = ""

define internal i32 @"sigmoid.body"(ptr noalias %"x", ptr noalias %"out", ptr noalias %"workspace", i64 %"threads") nounwind
{
entry:
  %"sigmoid.par0.args" = alloca [3 x ptr]
  %".6" = getelementptr inbounds [3 x ptr], [3 x ptr]* %"sigmoid.par0.args", i64 0, i32 0
  store ptr %"x", ptr %".6"
  %".8" = getelementptr inbounds [3 x ptr], [3 x ptr]* %"sigmoid.par0.args", i64 0, i32 1
  store ptr %"out", ptr %".8"
  %".10" = getelementptr inbounds [3 x ptr], [3 x ptr]* %"sigmoid.par0.args", i64 0, i32 2
  store ptr %"workspace", ptr %".10"
  call void @"graphnn_parallel_for"(void (ptr, i64, i64)* @"sigmoid.par0", [3 x ptr]* %"sigmoid.par0.args", i64 100000, i64 16913, i64 %"threads")
  ret i32 0
}

define internal void @"sigmoid.par0.body"(ptr noalias %"x", ptr noalias %"out", ptr noalias %"workspace", i64 %"start", i64 %"end") nounwind
{
entry:
  br label %"i.cond"
i.cond:
  %"i" = phi  i64 [%"start", %"entry"], [%"i.next", %"i.body"]
  %".8" = icmp slt i64 %"i", %"end"
  br i1 %".8", label %"i.body", label %"i.end"
i.body:
  %".10" = getelementptr inbounds double, ptr %"x", i64 %"i"
  %".11" = load double, ptr %".10", align 8
  %".12" = fneg double %".11"
  %".13" = call double @"exp.f64"(double %".12")
  %".14" = fadd double 0x3ff0000000000000, %".13"
  %".15" = fdiv double 0x3ff0000000000000, %".14"
  %".16" = getelementptr inbounds double, ptr %"out", i64 %"i"
  store double %".15", ptr %".16", align 8
  %"i.next" = add nuw nsw i64 %"i", 1
  br label %"i.cond", !llvm.loop !1
i.end:
  ret void
}

define internal double @"exp.f64"(double %".1") alwaysinline
{
entry:
  %".3" = call double @"llvm.maxnum.f64"(double %".1", double 0xc087500000000000)
  %".4" = call double @"llvm.minnum.f64"(double %".3", double 0x4086300000000000)
  %".5" = fmul double %".4", 0x3ff71547652b82fe
  %".6" = call double @"llvm.rint.f64"(double %".5")
  %".7" = call double @"llvm.fmuladd.f64"(double %".6", double 0xbfe62e42fee00000, double %".4")
  %".8" = call double @"llvm.fmuladd.f64"(double %".6", double 0xbdea39ef35793c76, double %".7")
  %".9" = fptosi double %".6" to i64
  %".10" = call double @"llvm.fmuladd.f64"(double 0x3de6124613a86d09, double %".8", double 0x3e21eed8eff8d898)
  %".11" = call double @"llvm.fmuladd.f64"(double %".10", double %".8", double 0x3e5ae64567f544e4)
  %".12" = call double @"llvm.fmuladd.f64"(double %".11", double %".8", double 0x3e927e4fb7789f5c)
  %".13" = call double @"llvm.fmuladd.f64"(double %".12", double %".8", double 0x3ec71de3a556c734)
  %".14" = call double @"llvm.fmuladd.f64"(double %".13", double %".8", double 0x3efa01a01a01a01a)
  %".15" = call double @"llvm.fmuladd.f64"(double %".14", double %".8", double 0x3f2a01a01a01a01a)
  %".16" = call double @"llvm.fmuladd.f64"(double %".15", double %".8", double 0x3f56c16c16c16c17)
  %".17" = call double @"llvm.fmuladd.f64"(double %".16", double %".8", double 0x3f81111111111111)
  %".18" = call double @"llvm.fmuladd.f64"(double %".17", double %".8", double 0x3fa5555555555555)
  %".19" = call double @"llvm.fmuladd.f64"(double %".18", double %".8", double 0x3fc5555555555555)
  %".20" = call double @"llvm.fmuladd.f64"(double %".19", double %".8", double 0x3fe0000000000000)
  %".21" = call double @"llvm.fmuladd.f64"(double %".20", double %".8", double 0x3ff0000000000000)
  %".22" = fmul double %".8", %".21"
  %".23" = fadd double %".22", 0x3ff0000000000000
  %".24" = ashr i64 %".9", 1
  %".25" = add i64 %".24", 1023
  %".26" = shl i64 %".25", 52
  %".27" = bitcast i64 %".26" to double
  %".28" = fmul double %".23", %".27"
  %".29" = sub i64 %".9", %".24"
  %".30" = add i64 %".29", 1023
  %".31" = shl i64 %".30", 52
  %".32" = bitcast i64 %".31" to double
  %".33" = fmul double %".28", %".32"
  %".34" = fcmp uno double %".1", %".1"
  %".35" = select  i1 %".34", double %".1", double %".33"
  ret double %".35"
}

declare double @"llvm.maxnum.f64"(double %".1", double %".2")

declare double @"llvm.minnum.f64"(double %".1", double %".2")

declare double @"llvm.rint.f64"(double %".1")

declare double @"llvm.fmuladd.f64"(double %".1", double %".2", double %".3")

define internal void @"sigmoid.par0"(ptr %"args", i64 %"start", i64 %"end") nounwind
{
entry:
  %".5" = getelementptr ptr, ptr %"args", i64 0
  %"x" = load ptr, ptr %".5"
  %".6" = getelementptr ptr, ptr %"args", i64 1
  %"out" = load ptr, ptr %".6"
  %".7" = getelementptr ptr, ptr %"args", i64 2
  %"workspace" = load ptr, ptr %".7"
  call void @"sigmoid.par0.body"(ptr %"x", ptr %"out", ptr %"workspace", i64 %"start", i64 %"end")
  ret void
}

declare void @"graphnn_parallel_for"(ptr %".1", ptr %".2", i64 %".3", i64 %".4", i64 %".5")

define i32 @"kernel.sigmoid"(ptr %"args") nounwind
{
entry:
  %".3" = getelementptr i64, ptr %"args", i64 3
  %"threads" = load i64, ptr %".3"
  %".4" = getelementptr ptr, ptr %"args", i64 0
  %"x" = load ptr, ptr %".4"
  %".5" = getelementptr ptr, ptr %"args", i64 1
  %"out" = load ptr, ptr %".5"
  %".6" = getelementptr ptr, ptr %"args", i64 2
  %"workspace" = load ptr, ptr %".6"
  %".7" = icmp slt i64 %"threads", 1
  %".8" = select  i1 %".7", i64 1, i64 %"threads"
  %".9" = icmp sgt i64 %".8", 64
  %"threads.clamped" = select  i1 %".9", i64 64, i64 %".8"
  %".10" = call i32 @"sigmoid.body"(ptr %"x", ptr %"out", ptr %"workspace", i64 %"threads.clamped")
  ret i32 %".10"
}

!0 = !{ !"llvm.loop.unroll.disable" }
!1 = !{ !1, !0 }