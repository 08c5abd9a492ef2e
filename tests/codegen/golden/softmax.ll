; ModuleID = "softmax"
target triple = "unknown-unknown-unknown"
target datalayout = ""

define internal i32 @"softmax.body"(ptr noalias %"x", ptr noalias %"out", ptr noalias %"workspace", i64 %"threads") nounwind
{
entry:
  %"top" = getelementptr inbounds i8, ptr %"workspace", i64 0
  %"total" = getelementptr inbounds i8, ptr %"workspace", i64 64
  %"r0.acc" = alloca float
  %"r0.acc.1" = alloca float
  br label %"i.cond"
i.cond:
  %"i" = phi  i64 [0, %"entry"], [%"i.next", %"r0.end.1"]
  %".7" = icmp slt i64 %"i", 4
  br i1 %".7", label %"i.body", label %"i.end"
i.body:
  store float 0xfff0000000000000, float* %"r0.acc"
  br label %"r0.cond"
i.end:
  br label %"i.cond.1"
r0.cond:
  %"r0" = phi  i64 [0, %"i.body"], [%"r0.next", %"r0.body"]
  %".11" = icmp slt i64 %"r0", 10
  br i1 %".11", label %"r0.body", label %"r0.end"
r0.body:
  %".13" = mul nuw nsw i64 %"i", 10
  %".14" = add nuw nsw i64 %".13", %"r0"
  %".15" = getelementptr inbounds float, ptr %"x", i64 %".14"
  %".16" = load float, ptr %".15", align 4
  %".17" = load float, float* %"r0.acc"
  %".18" = call float @"llvm.maximum.f32"(float %".17", float %".16")
  store float %".18", float* %"r0.acc"
  %"r0.next" = add nuw nsw i64 %"r0", 1
  br label %"r0.cond"
r0.end:
  %".21" = load float, float* %"r0.acc"
  %".22" = getelementptr inbounds float, ptr %"top", i64 %"i"
  store float %".21", ptr %".22", align 4
  store float              0x0, float* %"r0.acc.1"
  br label %"r0.cond.1"
r0.cond.1:
  %"r0.1" = phi  i64 [0, %"r0.end"], [%"r0.next.1", %"r0.body.1"]
  %".26" = icmp slt i64 %"r0.1", 10
  br i1 %".26", label %"r0.body.1", label %"r0.end.1"
r0.body.1:
  %".28" = mul nuw nsw i64 %"i", 10
  %".29" = add nuw nsw i64 %".28", %"r0.1"
  %".30" = getelementptr inbounds float, ptr %"x", i64 %".29"
  %".31" = load float, ptr %".30", align 4
  %".32" = getelementptr inbounds float, ptr %"top", i64 %"i"
  %".33" = load float, ptr %".32", align 4
  %".34" = fsub float %".31", %".33"
  %".35" = call float @"exp.f32"(float %".34")
  %".36" = load float, float* %"r0.acc.1"
  %".37" = fadd reassoc contract float %".36", %".35"
  store float %".37", float* %"r0.acc.1"
  %"r0.next.1" = add nuw nsw i64 %"r0.1", 1
  br label %"r0.cond.1"
r0.end.1:
  %".40" = load float, float* %"r0.acc.1"
  %".41" = getelementptr inbounds float, ptr %"total", i64 %"i"
  store float %".40", ptr %".41", align 4
  %"i.next" = add nuw nsw i64 %"i", 1
  br label %"i.cond"
i.cond.1:
  %"i.1" = phi  i64 [0, %"i.end"], [%"i.next.1", %"j.end"]
  %".45" = icmp slt i64 %"i.1", 4
  br i1 %".45", label %"i.body.1", label %"i.end.1"
i.body.1:
  br label %"j.cond"
i.end.1:
  ret i32 0
j.cond:
  %"j" = phi  i64 [0, %"i.body.1"], [%"j.next", %"j.body"]
  %".48" = icmp slt i64 %"j", 10
  br i1 %".48", label %"j.body", label %"j.end"
j.body:
  %".50" = mul nuw nsw i64 %"i.1", 10
  %".51" = add nuw nsw i64 %".50", %"j"
  %".52" = getelementptr inbounds float, ptr %"x", i64 %".51"
  %".53" = load float, ptr %".52", align 4
  %".54" = getelementptr inbounds float, ptr %"top", i64 %"i.1"
  %".55" = load float, ptr %".54", align 4
  %".56" = fsub float %".53", %".55"
  %".57" = call float @"exp.f32"(float %".56")
  %".58" = getelementptr inbounds float, ptr %"total", i64 %"i.1"
  %".59" = load float, ptr %".58", align 4
  %".60" = fdiv float %".57", %".59"
  %".61" = mul nuw nsw i64 %"i.1", 10
  %".62" = add nuw nsw i64 %".61", %"j"
  %".63" = getelementptr inbounds float, ptr %"out", i64 %".62"
  store float %".60", ptr %".63", align 4
  %"j.next" = add nuw nsw i64 %"j", 1
  br label %"j.cond"
j.end:
  %"i.next.1" = add nuw nsw i64 %"i.1", 1
  br label %"i.cond.1"
}

declare float @"llvm.maximum.f32"(float %".1", float %".2")

define internal float @"exp.f32"(float %".1") alwaysinline
{
entry:
  %".3" = call float @"llvm.maxnum.f32"(float %".1", float 0xc05a000000000000)
  %".4" = call float @"llvm.minnum.f32"(float %".3", float 0x4056400000000000)
  %".5" = fmul float %".4", 0x3ff7154760000000
  %".6" = call float @"llvm.rint.f32"(float %".5")
  %".7" = call float @"llvm.fmuladd.f32"(float %".6", float 0xbfe6300000000000, float %".4")
  %".8" = call float @"llvm.fmuladd.f32"(float %".6", float 0x3f2bd01060000000, float %".7")
  %".9" = fptosi float %".6" to i32
  %".10" = call float @"llvm.fmuladd.f32"(float 0x3f2a01a020000000, float %".8", float 0x3f56c16c20000000)
  %".11" = call float @"llvm.fmuladd.f32"(float %".10", float %".8", float 0x3f81111120000000)
  %".12" = call float @"llvm.fmuladd.f32"(float %".11", float %".8", float 0x3fa5555560000000)
  %".13" = call float @"llvm.fmuladd.f32"(float %".12", float %".8", float 0x3fc5555560000000)
  %".14" = call float @"llvm.fmuladd.f32"(float %".13", float %".8", float 0x3fe0000000000000)
  %".15" = call float @"llvm.fmuladd.f32"(float %".14", float %".8", float 0x3ff0000000000000)
  %".16" = fmul float %".8", %".15"
  %".17" = fadd float %".16", 0x3ff0000000000000
  %".18" = ashr i32 %".9", 1
  %".19" = add i32 %".18", 127
  %".20" = shl i32 %".19", 23
  %".21" = bitcast i32 %".20" to float
  %".22" = fmul float %".17", %".21"
  %".23" = sub i32 %".9", %".18"
  %".24" = add i32 %".23", 127
  %".25" = shl i32 %".24", 23
  %".26" = bitcast i32 %".25" to float
  %".27" = fmul float %".22", %".26"
  %".28" = fcmp uno float %".1", %".1"
  %".29" = select  i1 %".28", float %".1", float %".27"
  ret float %".29"
}

declare float @"llvm.maxnum.f32"(float %".1", float %".2")

declare float @"llvm.minnum.f32"(float %".1", float %".2")

declare float @"llvm.rint.f32"(float %".1")

declare float @"llvm.fmuladd.f32"(float %".1", float %".2", float %".3")

define i32 @"kernel.softmax"(ptr %"args") nounwind
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
  %".10" = call i32 @"softmax.body"(ptr %"x", ptr %"out", ptr %"workspace", i64 %"threads.clamped")
  ret i32 %".10"
}
