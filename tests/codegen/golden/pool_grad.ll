; ModuleID = "pool_grad"
target triple = "unknown-unknown-unknown"
target datalayout = ""

define internal i32 @"pool_grad.body"(ptr noalias %"g", ptr noalias %"x", ptr noalias %"grad", ptr noalias %"workspace", i64 %"threads") nounwind
{
entry:
  %"r0.acc" = alloca double
  br label %"i.cond"
i.cond:
  %"i" = phi  i64 [0, %"entry"], [%"i.next", %"i.body"]
  %".8" = icmp slt i64 %"i", 9
  br i1 %".8", label %"i.body", label %"i.end"
i.body:
  %".10" = srem i64 %"i", 3
  %".11" = sdiv i64 %"i", 3
  %".12" = icmp slt i64 %".10", 0
  %".13" = zext i1 %".12" to i64
  %".14" = sub i64 %".11", %".13"
  %".15" = mul nuw nsw i64 %".14", 3
  %".16" = srem i64 %"i", 3
  %".17" = sdiv i64 %"i", 3
  %".18" = icmp slt i64 %".16", 0
  %".19" = add i64 %".16", 3
  %".20" = select  i1 %".18", i64 %".19", i64 %".16"
  %".21" = add nuw nsw i64 %".15", %".20"
  %".22" = getelementptr inbounds double, ptr %"grad", i64 %".21"
  store double              0x0, ptr %".22", align 8
  %"i.next" = add nuw nsw i64 %"i", 1
  br label %"i.cond"
i.end:
  br label %"i.cond.1"
i.cond.1:
  %"i.1" = phi  i64 [0, %"i.end"], [%"i.next.1", %"j.end"]
  %".26" = icmp slt i64 %"i.1", 2
  br i1 %".26", label %"i.body.1", label %"i.end.1"
i.body.1:
  br label %"j.cond"
i.end.1:
  ret i32 0
j.cond:
  %"j" = phi  i64 [0, %"i.body.1"], [%"j.next", %"k.end"]
  %".29" = icmp slt i64 %"j", 2
  br i1 %".29", label %"j.body", label %"j.end"
j.body:
  br label %"k.cond"
j.end:
  %"i.next.1" = add nuw nsw i64 %"i.1", 1
  br label %"i.cond.1"
k.cond:
  %"k" = phi  i64 [0, %"j.body"], [%"k.next", %"l.end"]
  %".32" = icmp slt i64 %"k", 2
  br i1 %".32", label %"k.body", label %"k.end"
k.body:
  br label %"l.cond"
k.end:
  %"j.next" = add nuw nsw i64 %"j", 1
  br label %"j.cond"
l.cond:
  %"l" = phi  i64 [0, %"k.body"], [%"l.next", %"r0.end"]
  %".35" = icmp slt i64 %"l", 2
  br i1 %".35", label %"l.body", label %"l.end"
l.body:
  %".37" = add i64 %"i.1", %"k"
  %".38" = mul nuw nsw i64 %".37", 3
  %".39" = add i64 %"j", %"l"
  %".40" = add nuw nsw i64 %".38", %".39"
  %".41" = getelementptr inbounds double, ptr %"x", i64 %".40"
  %".42" = load double, ptr %".41", align 8
  store double 0xfff0000000000000, double* %"r0.acc"
  br label %"r0.cond"
l.end:
  %"k.next" = add nuw nsw i64 %"k", 1
  br label %"k.cond"
r0.cond:
  %"r0" = phi  i64 [0, %"l.body"], [%"r0.next", %"r0.body"]
  %".45" = icmp slt i64 %"r0", 4
  br i1 %".45", label %"r0.body", label %"r0.end"
r0.body:
  %".47" = srem i64 %"r0", 2
  %".48" = sdiv i64 %"r0", 2
  %".49" = icmp slt i64 %".47", 0
  %".50" = zext i1 %".49" to i64
  %".51" = sub i64 %".48", %".50"
  %".52" = add i64 %"i.1", %".51"
  %".53" = mul nuw nsw i64 %".52", 3
  %".54" = srem i64 %"r0", 2
  %".55" = sdiv i64 %"r0", 2
  %".56" = icmp slt i64 %".54", 0
  %".57" = add i64 %".54", 2
  %".58" = select  i1 %".56", i64 %".57", i64 %".54"
  %".59" = add i64 %"j", %".58"
  %".60" = add nuw nsw i64 %".53", %".59"
  %".61" = getelementptr inbounds double, ptr %"x", i64 %".60"
  %".62" = load double, ptr %".61", align 8
  %".63" = load double, double* %"r0.acc"
  %".64" = fcmp ogt double %".63", %".62"
  %".65" = fcmp uno double %".63", %".63"
  %".66" = or i1 %".64", %".65"
  %".67" = select  i1 %".66", double %".63", double %".62"
  store double %".67", double* %"r0.acc"
  %"r0.next" = add nuw nsw i64 %"r0", 1
  br label %"r0.cond"
r0.end:
  %".70" = load double, double* %"r0.acc"
  %".71" = fcmp oeq double %".42", %".70"
  %".72" = mul nuw nsw i64 %"i.1", 2
  %".73" = add nuw nsw i64 %".72", %"j"
  %".74" = getelementptr inbounds double, ptr %"g", i64 %".73"
  %".75" = load double, ptr %".74", align 8
  %".76" = select  i1 %".71", double %".75", double              0x0
  %".77" = mul nuw nsw i64 %".37", 3
  %".78" = add nuw nsw i64 %".77", %".39"
  %".79" = getelementptr inbounds double, ptr %"grad", i64 %".78"
  %".80" = load double, ptr %".79", align 8
  %".81" = fadd double %".80", %".76"
  store double %".81", ptr %".79", align 8
  %"l.next" = add nuw nsw i64 %"l", 1
  br label %"l.cond"
}

define i32 @"kernel.pool_grad"(ptr %"args") nounwind
{
entry:
  %".3" = getelementptr i64, ptr %"args", i64 4
  %"threads" = load i64, ptr %".3"
  %".4" = getelementptr ptr, ptr %"args", i64 0
  %"g" = load ptr, ptr %".4"
  %".5" = getelementptr ptr, ptr %"args", i64 1
  %"x" = load ptr, ptr %".5"
  %".6" = getelementptr ptr, ptr %"args", i64 2
  %"grad" = load ptr, ptr %".6"
  %".7" = getelementptr ptr, ptr %"args", i64 3
  %"workspace" = load ptr, ptr %".7"
  %".8" = icmp slt i64 %"threads", 1
  %".9" = select  i1 %".8", i64 1, i64 %"threads"
  %".10" = icmp sgt i64 %".9", 64
  %"threads.clamped" = select  i1 %".10", i64 64, i64 %".9"
  %".11" = call i32 @"pool_grad.body"(ptr %"g", ptr %"x", ptr %"grad", ptr %"workspace", i64 %"threads.clamped")
  ret i32 %".11"
}
